package org.jvisor.kvm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.jvisor.memory.Doorbells;
import org.jvisor.sys.Epoll;
import org.jvisor.sys.Errno;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.SysException;

/**
 * MMIO doorbells on KVM: each armed doorbell is an eventfd registered with KVM_IOEVENTFD (with
 * datamatch), so the guest's write completes inside the kernel and the vCPU keeps running
 * (api.rst, 4.59 KVM_IOEVENTFD). One thread, "kvm-doorbells", waits on all of them in epoll and
 * runs the ring of each one that fired.
 *
 * <p>Eventfds of disarmed doorbells are kept and reused (a guest that keeps moving a BAR must not
 * leak descriptors), and only closed with the VM: the poller may still hold an epoll event of a
 * just-disarmed doorbell, and reading an fd number that was closed and reused would steal another
 * file's data. A stale event at worst rings the slot's new owner once, which a virtio queue
 * tolerates (a notification with nothing new is a no-op). Registration is serialised on the VM.
 */
final class KvmDoorbells implements Doorbells, AutoCloseable {
    private static final int MAX_EVENTS = 16;
    /** epoll data of the wake-up eventfd that stops the poller. */
    private static final long WAKE = -1;

    private final KvmVm vm;
    private final Epoll epoll;
    private final EventFd wake;
    private final ArrayDeque<EventFd> spare = new ArrayDeque<>();
    private final List<EventFd> all = new ArrayList<>();
    /** Armed doorbells by slot (the epoll data); replaced as a whole so the poller reads it without a lock. */
    private volatile Armed[] slots = new Armed[8];
    private volatile boolean closed;
    private final Thread poller;

    KvmDoorbells(KvmVm vm) {
        this.vm = vm;
        try {
            epoll = Epoll.create(MAX_EVENTS);
            wake = EventFd.createNonBlocking();
            epoll.add(wake.fd(), Epoll.EPOLLIN, WAKE);
        } catch (SysException e) {
            throw new KvmException(e);
        }
        poller = Thread.ofPlatform().daemon().name("kvm-doorbells").unstarted(this::loop);
        poller.start();
    }

    @Override
    public Doorbell arm(long address, int length, long value, Runnable ring) {
        if (length != 1 && length != 2 && length != 4 && length != 8) {
            throw new IllegalArgumentException("doorbell length " + length);
        }
        synchronized (vm) {
            if (closed) {
                throw new IllegalStateException("the VM is closed");
            }
            EventFd efd = spare.isEmpty() ? newEventFd() : spare.pop();
            drain(efd);
            try {
                vm.assignIoeventfd(efd.fd(), address, length, false, value);
            } catch (KvmException e) {
                spare.push(efd);
                throw new IllegalStateException("KVM_IOEVENTFD at " + String.format("%#x", address) + ": " + e.getMessage(), e);
            }
            int slot = freeSlot();
            Armed a = new Armed(slot, efd, address, length, value, ring);
            Armed[] s = slots;
            s[slot] = a;
            slots = s;
            try {
                epoll.add(efd.fd(), Epoll.EPOLLIN, slot);
            } catch (SysException e) {
                throw new KvmException(e);
            }
            return a;
        }
    }

    /** KVM_IOEVENTFD straight on the caller's eventfd: nothing of jvisor runs on the guest's write. */
    @Override
    public Doorbell armEventFd(long address, int length, long value, int eventFd) {
        if (length != 1 && length != 2 && length != 4 && length != 8) {
            throw new IllegalArgumentException("doorbell length " + length);
        }
        synchronized (vm) {
            if (closed) {
                throw new IllegalStateException("the VM is closed");
            }
            try {
                vm.assignIoeventfd(eventFd, address, length, false, value);
            } catch (KvmException e) {
                throw new IllegalStateException("KVM_IOEVENTFD at " + String.format("%#x", address) + ": " + e.getMessage(), e);
            }
        }
        return new Doorbell() {
            private boolean disarmed;

            @Override
            public void close() {
                synchronized (vm) {
                    if (!disarmed && !closed) {
                        vm.deassignIoeventfd(eventFd, address, length, false, value);
                    }
                    disarmed = true;
                }
            }
        };
    }

    private EventFd newEventFd() {
        try {
            EventFd e = EventFd.createNonBlocking();
            all.add(e);
            return e;
        } catch (SysException e) {
            throw new KvmException(e);
        }
    }

    /** Clears a doorbell's counter: how many rings it held (0 if none). */
    private static long drain(EventFd efd) {
        try {
            return efd.drain();
        } catch (SysException e) {
            throw new KvmException(e);
        }
    }

    private int freeSlot() {
        Armed[] s = slots;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == null) {
                return i;
            }
        }
        slots = Arrays.copyOf(s, s.length * 2);
        return s.length;
    }

    private void disarm(Armed a) {
        synchronized (vm) {
            if (a.disarmed || closed) {
                a.disarmed = true;
                return;
            }
            a.disarmed = true;
            Armed[] s = slots;
            s[a.slot] = null;
            slots = s;
            try {
                epoll.delete(a.efd.fd());
            } catch (SysException e) {
                throw new KvmException(e);
            }
            vm.deassignIoeventfd(a.efd.fd(), a.address, a.length, false, a.value);
            spare.push(a.efd);
        }
    }

    private void loop() {
        while (!closed) {
            int n;
            try {
                n = epoll.await(-1);
            } catch (SysException e) {
                if (e.is(Errno.EINTR)) {
                    continue;
                }
                System.err.println("jvisor: kvm-doorbells: " + e.getMessage());
                return;
            }
            for (int i = 0; i < n; i++) {
                long data = epoll.data(i);
                if (data == WAKE) {
                    continue;
                }
                Armed[] s = slots;
                Armed a = data >= 0 && data < s.length ? s[(int) data] : null;
                if (a == null || drain(a.efd) == 0) {
                    continue;
                }
                try {
                    a.ring.run();
                } catch (RuntimeException e) {
                    System.err.println("jvisor: kvm-doorbells: " + e);
                }
            }
        }
    }

    /** Stops the poller, deassigns every doorbell and closes the eventfds. */
    @Override
    public void close() {
        synchronized (vm) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            wake.signal(1);
        } catch (SysException e) {
            throw new KvmException(e);
        }
        try {
            poller.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (vm) {
            for (Armed a : slots) {
                if (a != null) {
                    a.disarmed = true;
                    vm.deassignIoeventfd(a.efd.fd(), a.address, a.length, false, a.value);
                }
            }
            for (EventFd e : all) {
                e.close();
            }
            wake.close();
            epoll.close();
        }
    }

    /** One armed doorbell: its slot (epoll data), eventfd and registration. */
    private final class Armed implements Doorbell {
        final int slot;
        final EventFd efd;
        final long address;
        final int length;
        final long value;
        final Runnable ring;
        boolean disarmed;

        Armed(int slot, EventFd efd, long address, int length, long value, Runnable ring) {
            this.slot = slot;
            this.efd = efd;
            this.address = address;
            this.length = length;
            this.value = value;
            this.ring = ring;
        }

        @Override
        public void close() {
            disarm(this);
        }
    }
}
