//go:build linux

package wan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Run is the element's daemon: started inside the namespace of the impaired interface,
// it serves both TUN devices Prepare created there, holding every packet for its delay,
// dropping its share of losses, and writing the rest back. SIGHUP re-reads the spec (the
// impairment changes at once for new packets). It returns when ctx is done.
func Run(ctx context.Context, specPath string, log *slog.Logger) error {
	s, err := LoadSpec(specPath)
	if err != nil {
		return err
	}
	seed := s.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	var imp atomic.Pointer[Impairment]
	imp.Store(&s.Impairment)
	log = log.With("interface", s.Interface)

	dirs := []*direction{
		{name: "in", dev: TunIn(s.Interface), sched: newSchedule(seed, 1), imp: &imp},
		{name: "out", dev: TunOut(s.Interface), sched: newSchedule(seed, 2), imp: &imp},
	}
	for _, d := range dirs {
		if d.tun, err = openTUN(d.dev); err != nil {
			for _, o := range dirs {
				if o.tun != nil {
					o.tun.Close()
				}
			}
			return err
		}
		if err = d.init(s.QueueLimit); err != nil {
			return err
		}
	}
	errc := make(chan error, 2*len(dirs))
	for _, d := range dirs {
		go func() { errc <- d.read() }()
		go func() { errc <- d.write() }()
	}
	log.Info("wan element serving", "in", dirs[0].dev, "out", dirs[1].dev, "impairment", s.Impairment.String(), "queueLimit", s.QueueLimit)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case <-hup:
			n, err := LoadSpec(specPath)
			switch {
			case err != nil:
				log.Warn("keeping the current impairment", "err", err)
			case n.Interface != s.Interface:
				log.Warn("keeping the current impairment", "err", fmt.Sprintf("the interface changed from %s to %s; one daemon serves one interface", s.Interface, n.Interface))
			default:
				imp.Store(&n.Impairment)
				log.Info("impairment changed", "impairment", n.Impairment.String())
			}
		}
	}
	for _, d := range dirs {
		d.stop()
		d.tun.Close()
		log.Info("wan element stopped", "direction", d.name, "received", d.received.Load(), "lost", d.lost.Load(),
			"overflow", d.overflow.Load(), "sent", d.sent.Load(), "meanLate", meanLate(d))
	}
	return runErr
}

// direction is one way through the link: a reader that timestamps and schedules each
// packet, a time-ordered queue of held packets, and a writer that releases them at their
// time.
type direction struct {
	name  string
	dev   string
	tun   *os.File
	sched *schedule
	imp   *atomic.Pointer[Impairment]
	limit int

	mu     sync.Mutex
	queue  holdQueue
	seq    uint64
	closed bool
	// wake (an eventfd) tells the writer that the queue's head changed or it must stop;
	// timer (a timerfd) wakes it at the head's departure.
	wake, timer int

	received, lost, overflow, sent atomic.Uint64
	late                           atomic.Int64 // total ns written after due, for the stop log
}

func (d *direction) init(limit int) error {
	d.limit = limit
	var err error
	if d.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	if d.timer, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK); err != nil {
		unix.Close(d.wake)
		return fmt.Errorf("timerfd: %w", err)
	}
	return nil
}

// stop ends the writer; the reader ends when the TUN device is closed.
func (d *direction) stop() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.signal()
}

func (d *direction) signal() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(d.wake, one[:])
}

func (d *direction) read() error {
	// A blocking read on its own thread: the kernel wakes it directly.
	runtime.LockOSThread()
	buf := make([]byte, 65536)
	for {
		n, err := d.tun.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read %s: %w", d.dev, err)
		}
		now := monotonic()
		d.received.Add(1)
		due, ok := d.sched.admit(now, flowKey(buf[:n]), *d.imp.Load())
		if !ok {
			d.lost.Add(1)
			continue
		}
		p := held{data: make([]byte, n), due: due}
		copy(p.data, buf[:n])
		d.mu.Lock()
		if len(d.queue) >= d.limit {
			d.mu.Unlock()
			d.overflow.Add(1) // the link's buffer is full: tail drop
			continue
		}
		d.seq++
		p.seq = d.seq
		d.queue.push(p)
		head := d.queue[0].seq == p.seq
		d.mu.Unlock()
		if head {
			d.signal()
		}
	}
}

// write releases packets at their departure time. It waits in poll(2) on a timerfd armed
// for the head's departure (a kernel hrtimer, so a hold is accurate to tens of
// microseconds; Go timers round sub-millisecond waits up to 1 ms) and on an eventfd the
// reader signals when a packet becomes the new head. With nothing held it only waits on
// the eventfd: an idle element uses no CPU.
func (d *direction) write() error {
	runtime.LockOSThread()
	// lead is how early to ask for the wake-up: the mean lateness of recent wake-ups
	// (tens of µs on a busy host), so a packet leaves at its due time on average.
	var lead time.Duration
	var drain [8]byte
	fds := []unix.PollFd{{Fd: int32(d.wake), Events: unix.POLLIN}, {Fd: int32(d.timer), Events: unix.POLLIN}}
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil
		}
		now := monotonic()
		if len(d.queue) > 0 && d.queue[0].due-lead <= now {
			p := d.queue.pop()
			d.mu.Unlock()
			d.send(p, now)
			continue
		}
		wait := fds[:1]
		var armed time.Duration
		if len(d.queue) > 0 {
			armed = d.queue[0].due - lead
			spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(armed))}
			if err := unix.TimerfdSettime(d.timer, unix.TFD_TIMER_ABSTIME, &spec, nil); err != nil {
				d.mu.Unlock()
				return fmt.Errorf("arm timer: %w", err)
			}
			wait = fds
		}
		d.mu.Unlock()
		if _, err := unix.Poll(wait, -1); err != nil && err != unix.EINTR {
			return fmt.Errorf("poll: %w", err)
		}
		_, _ = unix.Read(d.wake, drain[:])
		if n, _ := unix.Read(d.timer, drain[:]); n == 8 {
			late := monotonic() - armed
			lead += (min(late, maxLead) - lead) / 8
		}
	}
}

func (d *direction) send(p held, now time.Duration) {
	d.late.Add(int64(now - p.due))
	bumpTTL(p.data)
	if _, err := d.tun.Write(p.data); err != nil {
		// Closed at shutdown, or the kernel refused this packet (e.g. a malformed one):
		// the link goes on.
		return
	}
	d.sent.Add(1)
}

// maxLead bounds the wake-up compensation, so one long scheduling stall does not make the
// element send many packets early.
const maxLead = 200 * time.Microsecond

func monotonic() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

func meanLate(d *direction) time.Duration {
	if n := d.sent.Load(); n > 0 {
		return time.Duration(d.late.Load() / int64(n))
	}
	return 0
}
