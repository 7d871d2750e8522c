/**
 * sys: the one native layer. Every libc call jvisor makes goes through here, bound with
 * java.lang.foreign; this package uses the JDK only, and any room may use it.
 *
 * <h2>Errors</h2>
 * errno is captured by the linker right after each call, into a segment owned by the calling
 * thread, so calls allocate nothing. A failure is a {@link org.jvisor.sys.SysException} naming the
 * call, its important argument and the errno by name and text
 * ({@code open(/x/y.img, O_RDWR): ENOENT (No such file or directory)}); callers react to
 * {@link org.jvisor.sys.Errno} values ({@code e.is(Errno.EAGAIN)}). Hot paths (KVM_RUN, a tap's
 * non-blocking read) use the raw forms that return -errno instead of throwing.
 *
 * <h2>Pieces</h2>
 * <ul>
 *   <li>{@link org.jvisor.sys.Fd}: an owned descriptor; open, read/write (and non-blocking
 *       critical forms on heap memory), pread/pwrite, fsync, fallocate, ftruncate, OFD locks,
 *       ioctl.</li>
 *   <li>{@link org.jvisor.sys.Ioctl}: request encoding (asm-generic/ioctl.h) and raw ioctl.</li>
 *   <li>{@link org.jvisor.sys.EventFd}, {@link org.jvisor.sys.Epoll}, {@link org.jvisor.sys.Poll}.</li>
 *   <li>{@link org.jvisor.sys.Mman}: mmap, munmap, mprotect, madvise, memfd_create.</li>
 *   <li>{@link org.jvisor.sys.Termios}: terminal settings as a value; raw mode.</li>
 *   <li>{@link org.jvisor.sys.Signals} and {@link org.jvisor.sys.SigSet}: blocking, sending and
 *       consuming a signal without a Java handler (the vCPU kick).</li>
 *   <li>{@link org.jvisor.sys.Sockets} and {@link org.jvisor.sys.ScmRights}: Unix sockets and
 *       descriptors passed over them.</li>
 * </ul>
 * Numbers and struct layouts are those of Linux on x86-64 with glibc.
 */
package org.jvisor.sys;
