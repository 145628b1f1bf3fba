// Package testsubtree lets the test suites of this module share
// aliaslease's cgroup subtree when go test ./... runs them at once: the
// runs of several suites make groups in it, and the first suite to end
// could not remove it while another still used it, nor could a suite
// that found it made by another know to remove it. Hold counts the
// suites in a marker file under os.TempDir, flocked shared by each; the
// last one out removes the subtree if a suite made it and it is empty.
// It is for tests only.
package testsubtree
