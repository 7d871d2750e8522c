/*
 * In-guest block benchmark for bench/blk.sh: sequential read and write throughput and 4 KiB
 * random-read IOPS on a block device with O_DIRECT (so the guest's page cache is not what is
 * measured), timed with the guest's CLOCK_MONOTONIC. Built static on the host by the script and
 * added to the demo guest's initramfs.
 *   blkbench DEV seqread MIB | seqwrite MIB | randread COUNT
 * Prints one line: "<mode> <bytes or requests> <seconds>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: blkbench DEV seqread|seqwrite MIB | randread COUNT\n");
        return 2;
    }
    const char *dev = argv[1], *mode = argv[2];
    long n = atol(argv[3]);
    int write = strcmp(mode, "seqwrite") == 0;
    int fd = open(dev, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) die(dev);
    uint64_t size;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0) die("BLKGETSIZE64");
    const size_t chunk = 1 << 20;
    void *buf;
    if (posix_memalign(&buf, 4096, chunk)) die("posix_memalign");
    memset(buf, 0xA5, chunk);
    double t0 = now();
    if (strcmp(mode, "randread") == 0) {
        uint64_t blocks = size / 4096, x = 88172645463325252ull;
        for (long i = 0; i < n; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;   /* xorshift64: the same offsets every run */
            if (pread(fd, buf, 4096, (off_t) (x % blocks) * 4096) != 4096) die("pread");
        }
        printf("randread %ld %.6f\n", n, now() - t0);
    } else {
        long bytes = n * (long) chunk;
        if ((uint64_t) bytes > size) { fprintf(stderr, "%s is smaller than %ld MiB\n", dev, n); return 1; }
        for (long off = 0; off < bytes; off += chunk) {
            ssize_t r = write ? pwrite(fd, buf, chunk, off) : pread(fd, buf, chunk, off);
            if (r != (ssize_t) chunk) die(write ? "pwrite" : "pread");
        }
        if (write && fsync(fd) < 0) die("fsync");
        printf("%s %ld %.6f\n", mode, bytes, now() - t0);
    }
    return 0;
}
