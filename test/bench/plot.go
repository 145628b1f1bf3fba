package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// goBench runs the library's Go benchmarks into go-bench.txt.
func goBench() {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchtime", "200x", "./lease")
	out, err := cmd.CombinedOutput()
	if err != nil {
		logf("go benchmarks failed (%v); go-bench.txt left as it was:\n%s", err, out)
		return
	}
	os.WriteFile(filepath.Join(*outDir, "go-bench.txt"), out, 0o644)
	fmt.Fprintf(os.Stderr, "%s", out)
}

// dataBlock returns a gnuplot datablock of the x column against the
// median_ms of each command, from a saved part's CSV rows.
func dataBlock(name, part, xcol string, commands []string) (string, bool) {
	rows := readRows(part)
	col := slices.Index(csvHeader, xcol)
	med := slices.Index(csvHeader, "median_ms")
	byX := map[int]map[string]string{}
	for _, r := range rows {
		if len(r) != len(csvHeader) || !slices.Contains(commands, r[1]) {
			continue
		}
		x, err := strconv.Atoi(r[col])
		if err != nil {
			continue
		}
		if byX[x] == nil {
			byX[x] = map[string]string{}
		}
		byX[x][r[1]] = r[med]
	}
	if len(byX) == 0 {
		return "", false
	}
	var xs []int
	for x := range byX {
		xs = append(xs, x)
	}
	slices.Sort(xs)
	var b strings.Builder
	fmt.Fprintf(&b, "$%s << EOD\n", name)
	for _, x := range xs {
		fmt.Fprint(&b, x)
		for _, c := range commands {
			v := byX[x][c]
			if v == "" {
				v = "NaN"
			}
			fmt.Fprint(&b, " ", v)
		}
		fmt.Fprintln(&b)
	}
	b.WriteString("EOD\n")
	return b.String(), true
}

// plots draws, from the saved part files, acquire time against K and
// burst wall time against N.
func plots() {
	if _, err := exec.LookPath("gnuplot"); err != nil {
		logf("gnuplot not found: no plots (run.sh installs gnuplot-nox)")
		return
	}
	if data, ok := dataBlock("k", "cli", "k", []string{"docker-cli", "acquire-on", "curl-list", "acquire-off", "floor"}); ok {
		gnuplot(data + fmt.Sprintf(`set terminal pngcairo size 900,540 noenhanced
set output %q
set key left top
set title "Allocating an alias: time against bundle containers running (median)"
set xlabel "bundle containers running (K)"
set ylabel "wall time per allocation, ms (log scale)"
set logscale y
set grid
plot $k using 1:2 with linespoints lw 2 title "docker-CLI approach (ps + inspect per container)", \
     $k using 1:3 with linespoints lw 2 title "aliaslease acquire, Docker on", \
     $k using 1:6 with linespoints lw 1 dt 4 title "floor: client + negotiate + list, one process", \
     $k using 1:4 with linespoints lw 1 dt 2 title "one raw list call (curl)", \
     $k using 1:5 with linespoints lw 1 dt 3 lc rgb "#555555" title "aliaslease acquire, Docker off"
`, filepath.Join(*outDir, "acquire-vs-k.png")))
	}
	if data, ok := dataBlock("n", "burst", "n", []string{"acquire-burst", "floor-burst"}); ok {
		gnuplot(data + fmt.Sprintf(`set terminal pngcairo size 900,540 noenhanced
set output %q
set key left top
set title "N processes started at once: wall time of the whole burst (median)"
set xlabel "concurrent processes (N, log scale)"
set ylabel "first fork to last exit, ms"
set logscale x 2
set xrange [0.8:*]
set yrange [0:*]
set grid
plot $n using 1:2 with linespoints lw 2 title "N x aliaslease acquire (Docker on, distinct slugs)", \
     $n using 1:3 with linespoints lw 2 title "N x floor (client + negotiate + list)"
`, filepath.Join(*outDir, "burst-vs-n.png")))
	}
}

func gnuplot(script string) {
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		logf("gnuplot: %v %s", err, out)
	}
}
