package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/aliaslease/aliaslease/lease"
)

// renderBeside calls add with every decision that walk yields, in a
// goroutine of its own, in batches: on two cores, reading the database
// and rendering the rows overlap (with a full pool each is about half of
// list's time). A failure of the walk (a damaged database) is returned
// before one of add, which ends the walk; so does the end of ctx.
func renderBeside(ctx context.Context, walk func(func(lease.Decision) error) error, add func(lease.Decision) error) error {
	const batch, batches = 512, 4
	full, free := make(chan []lease.Decision, batches), make(chan []lease.Decision, batches)
	for range batches {
		free <- make([]lease.Decision, 0, batch)
	}
	var addErr error
	var failed atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			if addErr == nil {
				addErr = addAll(b, add)
			}
			failed.Store(addErr != nil)
			free <- b[:0]
		}
	}()
	cur := <-free
	err := walk(func(d lease.Decision) error {
		if failed.Load() {
			return errRenderFailed
		}
		if cur = append(cur, d); len(cur) == batch {
			if err := handOver(ctx, full, cur); err != nil {
				return err
			}
			select {
			case cur = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	if err == nil {
		if err := handOver(ctx, full, cur); err != nil {
			return err
		}
	}
	close(full)
	select {
	case <-done:
	case <-ctx.Done():
		// The rendering goroutine is left to the process's exit: it
		// may be inside a template that writes nothing for minutes.
		return ctx.Err()
	}
	switch {
	case err != nil && !errors.Is(err, errRenderFailed):
		return err
	case addErr != nil:
		return addErr
	}
	return ctx.Err()
}

// handOver sends a batch to the rendering goroutine, or returns ctx's
// error once ctx ends: a row can take long (a template), and a signal
// must not wait for it.
func handOver(ctx context.Context, full chan<- []lease.Decision, b []lease.Decision) error {
	if err := ctx.Err(); err != nil { // select would pick a free channel as often
		return err
	}
	select {
	case full <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// addAll calls add with each of ds until one fails. A panic is an error
// too: this goroutine is outside the guard that turns the walk's panics
// into errors, and it must go on handing batches back.
func addAll(ds []lease.Decision, add func(lease.Decision) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("rendering a row: %v", p)
		}
	}()
	for _, d := range ds {
		if err := add(d); err != nil {
			return err
		}
	}
	return nil
}

// errRenderFailed ends a walk whose rows could not be rendered.
var errRenderFailed = errors.New("rendering failed")

// writeBeside writes the rows out in a goroutine of its own and returns
// when they are written or ctx ends: a reader that stopped reading (a
// pager left open) blocks a write that no signal interrupts, and a signal
// must end list at once, whatever the write waits for.
func writeBeside(ctx context.Context, r rows, w io.Writer) error {
	ended := make(chan error, 1)
	go func() { ended <- r.end(ctxWriter{ctx, w}) }()
	select {
	case err := <-ended:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ctxWriter writes until ctx ends (a signal: list's output can be long),
// and drops empty writes, which a device such as /dev/full would fail.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	return c.w.Write(p)
}
