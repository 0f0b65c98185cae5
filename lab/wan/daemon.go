package wan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
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
		d.queue = make(chan packet, s.QueueLimit)
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
		d.tun.Close() // ends the readers; writers end when they next write
		log.Info("wan element stopped", "direction", d.name, "received", d.received.Load(), "lost", d.lost.Load(),
			"overflow", d.overflow.Load(), "sent", d.sent.Load(), "meanLate", meanLate(d))
	}
	return runErr
}

type packet struct {
	data []byte
	due  time.Duration // on the CLOCK_MONOTONIC timeline
}

// direction is one way through the link: a reader that timestamps and schedules each
// packet, a FIFO of held packets, and a writer that releases them at their time.
type direction struct {
	name  string
	dev   string
	tun   *os.File
	sched *schedule
	imp   *atomic.Pointer[Impairment]
	queue chan packet

	received, lost, overflow, sent atomic.Uint64
	late                           atomic.Int64 // total ns written after due, for the stop log
}

func (d *direction) read() error {
	runtime.LockOSThread()
	defer close(d.queue)
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
		due, ok := d.sched.admit(now, *d.imp.Load())
		if !ok {
			d.lost.Add(1)
			continue
		}
		p := packet{data: make([]byte, n), due: due}
		copy(p.data, buf[:n])
		select {
		case d.queue <- p:
		default:
			d.overflow.Add(1) // the link's buffer is full: tail drop
		}
	}
}

// write releases packets at their departure time. It sleeps with clock_nanosleep on an
// absolute deadline, on its own thread with a 1µs timer slack, so a hold is accurate to
// tens of microseconds (Go timers round sub-millisecond waits up to 1 ms). Between
// packets it blocks on the queue: an idle element uses no CPU.
func (d *direction) write() error {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0)
	// lead is how early to ask for the wake-up: the mean lateness of recent wake-ups
	// (tens of µs on a busy host), so a packet leaves at its due time on average.
	var lead time.Duration
	for p := range d.queue {
		if wake := p.due - lead; wake > monotonic() {
			sleepUntil(wake)
			late := monotonic() - wake
			lead += (min(late, maxLead) - lead) / 8
		}
		d.late.Add(int64(monotonic() - p.due))
		bumpTTL(p.data)
		if _, err := d.tun.Write(p.data); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			// The kernel refused this packet (e.g. a malformed one); the link goes on.
			continue
		}
		d.sent.Add(1)
	}
	return nil
}

// maxLead bounds the wake-up compensation, so one long scheduling stall does not make the
// element send many packets early.
const maxLead = 200 * time.Microsecond

func monotonic() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

func sleepUntil(due time.Duration) {
	ts := unix.NsecToTimespec(int64(due))
	for {
		err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
		if err != unix.EINTR {
			return
		}
	}
}

func meanLate(d *direction) time.Duration {
	if n := d.sent.Load(); n > 0 {
		return time.Duration(d.late.Load() / int64(n))
	}
	return 0
}
