package analysis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/humaninsight/facet"
)

// busyModels is fakeModels that take a millisecond a call and record the
// most calls ever in progress at once.
type busyModels struct {
	fakeModels
	now, peak atomic.Int64
}

func (m *busyModels) enter() {
	n := m.now.Add(1)
	for p := m.peak.Load(); n > p && !m.peak.CompareAndSwap(p, n); p = m.peak.Load() {
	}
	time.Sleep(time.Millisecond)
}

func (m *busyModels) Detect(img Image) ([]Detection, error) {
	m.enter()
	defer m.now.Add(-1)
	return m.fakeModels.Detect(img)
}

func (m *busyModels) Describe(img Image, faces []Detection) ([]Attributes, error) {
	m.enter()
	defer m.now.Add(-1)
	return m.fakeModels.Describe(img, faces)
}

// runTwo runs two analyses of n frames at once, each with workers
// workers, sharing slots and m, and returns each one's frames.
func runTwo(t *testing.T, m Models, slots chan struct{}, workers, n int) [2][]facet.Frame {
	t.Helper()
	var got [2][]facet.Frame
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := Options{Width: 100, Height: 100, Workers: workers, Slots: slots,
				OnFrame: func(f facet.Frame) error { got[i] = append(got[i], f); return nil }}
			_, errs[i] = Run(context.Background(), &fakeSource{n: n}, m, o)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	return got
}

// Two runs sharing slots of 3 never analyse more than 3 frames at once
// between them, though each has 3 workers, and both give the frames a run
// alone gives.
func TestRunSharedSlots(t *testing.T) {
	const frames, workers = 40, 3
	var alone []facet.Frame
	if _, err := Run(context.Background(), &fakeSource{n: frames}, &fakeModels{failAt: -1}, Options{Width: 100, Height: 100, Workers: 1,
		OnFrame: func(f facet.Frame) error { alone = append(alone, f); return nil }}); err != nil {
		t.Fatal(err)
	}

	// Without slots the two runs do overlap beyond 3: the check can fail.
	free := &busyModels{fakeModels: fakeModels{failAt: -1}}
	runTwo(t, free, nil, workers, frames)
	if p := free.peak.Load(); p <= workers {
		t.Fatalf("without slots at most %d frames were in analysis at once; the test cannot tell", p)
	}

	slots := make(chan struct{}, workers)
	m := &busyModels{fakeModels: fakeModels{failAt: -1}}
	got := runTwo(t, m, slots, workers, frames)
	if p := m.peak.Load(); p > workers {
		t.Errorf("%d frames in analysis at once across two runs sharing %d slots", p, workers)
	}
	for i, g := range got {
		if diff := cmp.Diff(alone, g); diff != "" {
			t.Errorf("run %d differs from a run alone (-alone +shared):\n%s", i, diff)
		}
	}
	if len(slots) != 0 {
		t.Errorf("%d slots still held after both runs", len(slots))
	}
}

// A run cancelled while every slot is taken returns, and holds none.
func TestRunSlotsCancelled(t *testing.T) {
	slots := make(chan struct{}, 2)
	slots <- struct{}{}
	slots <- struct{}{} // another run holds them all
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, &fakeSource{n: 10}, &fakeModels{failAt: -1}, Options{Width: 2, Height: 2, Workers: 2, Slots: slots})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	if len(slots) != 2 {
		t.Errorf("%d slots held after the cancelled run, want the other run's 2", len(slots))
	}
}
