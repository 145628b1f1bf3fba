package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interrupts turns the first SIGINT or SIGTERM into the cancellation of
// the command's context (so every wait ends and nothing commits after it)
// and a second one into an immediate exit. While run forwards signals to
// its command, they are the command's business instead.
var interrupts signals

type signals struct {
	mu         sync.Mutex
	first      syscall.Signal
	forwarding bool
	cancel     context.CancelFunc
}

// watch starts watching and returns the context the first signal cancels.
func (s *signals) watch() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for sig := range ch {
			n, _ := sig.(syscall.Signal)
			s.mu.Lock()
			switch {
			case s.forwarding:
			case s.first == 0:
				s.first = n
				s.cancel()
			default:
				os.Exit(128 + int(n))
			}
			s.mu.Unlock()
		}
	}()
	return ctx
}

// caught returns the first signal received, or 0.
func (s *signals) caught() syscall.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// forward hands signals over to run's forwarder (on true) or takes them
// back. It reports false, handing nothing over, once a signal has been
// caught: run must then not start its command.
func (s *signals) forward(on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on && s.first != 0 {
		return false
	}
	s.forwarding = on
	return true
}

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
