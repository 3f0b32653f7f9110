package uring

import (
	"syscall"
	"testing"
	"unsafe"
)

// TestABI: the structures shared with the kernel have its sizes and
// offsets (linux/io_uring.h); a field out of place would send garbage.
func TestABI(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_sqe", unsafe.Sizeof(SQE{}), SQESize},
		{"io_uring_cqe", unsafe.Sizeof(CQE{}), CQESize},
		{"io_uring_params", unsafe.Sizeof(Params{}), 120},
		{"io_uring_buf_reg", unsafe.Sizeof(BufReg{}), 40},
		{"io_uring_getevents_arg", unsafe.Sizeof(GeteventsArg{}), 24},
		{"io_uring_sqe.fd", unsafe.Offsetof(SQE{}.FD), 4},
		{"io_uring_sqe.addr", unsafe.Offsetof(SQE{}.Addr), 16},
		{"io_uring_sqe.msg_flags", unsafe.Offsetof(SQE{}.OpFlags), 28},
		{"io_uring_sqe.user_data", unsafe.Offsetof(SQE{}.UserData), 32},
		{"io_uring_sqe.buf_group", unsafe.Offsetof(SQE{}.BufGroup), 40},
		{"io_uring_params.sq_off", unsafe.Offsetof(Params{}.SQOff), 40},
		{"io_uring_params.cq_off", unsafe.Offsetof(Params{}.CQOff), 80},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d bytes, the kernel's is %d", tc.name, tc.got, tc.want)
		}
	}
}

// TestSendThroughRing submits one send and reads its completion: Setup,
// the mapped queues and Enter agree with the kernel.
func TestSendThroughRing(t *testing.T) {
	var p Params
	r, err := Setup(4, &p)
	if err != nil {
		t.Skipf("this kernel refuses io_uring: %v", err)
	}
	defer r.Close()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	msg := []byte("hello")
	tail := r.SQTail()
	*r.SQE(tail) = SQE{Opcode: OpSend, FD: int32(fds[0]), Addr: uint64(uintptr(unsafe.Pointer(&msg[0]))), Len: uint32(len(msg)), UserData: 42}
	r.SetSQTail(tail + 1)
	if errno := r.Enter(1, 1, EnterGetevents, nil, 0); errno != 0 {
		t.Fatalf("io_uring_enter: %v", errno)
	}
	if r.SQHead() != tail+1 {
		t.Errorf("kernel took submissions up to %d, want %d", r.SQHead(), tail+1)
	}
	head := r.CQHead()
	if r.CQTail()-head != 1 {
		t.Fatalf("%d completions in, want 1", r.CQTail()-head)
	}
	if c := r.CQE(head); c.UserData != 42 || c.Res != int32(len(msg)) {
		t.Errorf("completion %+v, want user data 42 and %d bytes", *c, len(msg))
	}
	r.SetCQHead(head + 1)
	got := make([]byte, 16)
	n, err := syscall.Read(fds[1], got)
	if err != nil || string(got[:n]) != "hello" {
		t.Errorf("peer read %q, %v; want hello", got[:n], err)
	}
}
