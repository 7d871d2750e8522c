/*
 * Cross-modifying code from user space (SDM vol. 3, 8.1.3), for an SMP guest: one thread swaps a
 * 4-byte aligned instruction of a small function in an RWX page between two encodings with an
 * atomic exchange, while two threads keep calling the function and check that each call ran one
 * of the two. This goes in rounds: at the end of a round the writer leaves the round's encoding in
 * place and announces it; each caller then executes CPUID, a serializing instruction, after which
 * every call must run that encoding (the executing processor's side of 8.1.3), and acknowledges.
 *
 * The two encodings differ in three bytes, so a fetch that mixes them decodes to something else
 * (48 8D C0 11 is #UD, 48 83 40 22 adds to memory): a torn fetch shows as a wrong value or a
 * signal, which is caught and reported.
 *
 * Usage: xmodify [ROUNDS [SWAPS]]; prints "xmodify: ok ..." and exits 0, or says what went wrong
 * and exits 1 (wrong results) or 2 (a signal).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* add $0x11, %rax and lea 0x22(%rax), %rax, as little-endian dwords */
#define ADD 0x11c08348u
#define LEA 0x22408d48u
#define ARG 0x1000L
#define CHECKED 1000

typedef long (*fn)(long);

static unsigned char *page;
static volatile uint32_t *insn;
static long rounds = 20, swaps = 5000;
static volatile long announced;

struct caller {
    long calls, bad, last_bad, stale, stale_rounds;
    volatile long acked;
};

static struct caller callers[2];

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    (void) ctx;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "xmodify: signal %d at %p, instruction bytes %08x\n", sig, si->si_addr,
                     (unsigned) *insn);
    if (write(1, buf, n) < 0) {
        _exit(3);
    }
    _exit(2);
}

static uint32_t encoding(long round)
{
    return round % 2 ? LEA : ADD;
}

static void *writer(void *arg)
{
    (void) arg;
    for (long r = 1; r <= rounds; r++) {
        uint32_t last = encoding(r), other = last == ADD ? LEA : ADD;
        for (long i = swaps; i > 0; i--) {
            __atomic_exchange_n(insn, i % 2 ? last : other, __ATOMIC_SEQ_CST);
        }
        __atomic_store_n(&announced, r, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&callers[0].acked, __ATOMIC_SEQ_CST) < r
               || __atomic_load_n(&callers[1].acked, __ATOMIC_SEQ_CST) < r) {
            sched_yield();
        }
    }
    return NULL;
}

static void serialize(void)
{
    unsigned a = 0, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
}

static void *caller(void *arg)
{
    struct caller *c = arg;
    fn f = (fn) page;
    for (long r = 1; r <= rounds; r++) {
        while (__atomic_load_n(&announced, __ATOMIC_SEQ_CST) < r) {
            long v = f(ARG);
            c->calls++;
            if (v != ARG + 0x11 && v != ARG + 0x22) {
                c->bad++;
                c->last_bad = v;
            }
        }
        serialize();
        long want = encoding(r) == ADD ? ARG + 0x11 : ARG + 0x22, stale = 0;
        for (int i = 0; i < CHECKED; i++) {
            if (f(ARG) != want) {
                stale++;
            }
        }
        c->stale += stale;
        c->stale_rounds += stale != 0;
        __atomic_store_n(&c->acked, r, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        rounds = atol(argv[1]);
    }
    if (argc > 2) {
        swaps = atol(argv[2]);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        perror("xmodify: mmap");
        return 1;
    }
    /* mov %rdi, %rax; nop; add $0x11, %rax; ret: the swapped instruction is at offset 4 */
    static const unsigned char code[] = {0x48, 0x89, 0xf8, 0x90, 0x48, 0x83, 0xc0, 0x11, 0xc3};
    memcpy(page, code, sizeof code);
    insn = (volatile uint32_t *) (page + 4);

    pthread_t w, t[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, caller, &callers[i]);
    }
    pthread_create(&w, NULL, writer, NULL);
    pthread_join(w, NULL);
    int failed = 0;
    long calls = 0;
    for (int i = 0; i < 2; i++) {
        struct caller *c = &callers[i];
        pthread_join(t[i], NULL);
        calls += c->calls;
        if (c->bad) {
            printf("xmodify: caller %d: %ld of %ld calls returned neither value (last %#lx)\n", i, c->bad, c->calls,
                   c->last_bad);
            failed = 1;
        }
        if (c->stale) {
            printf("xmodify: caller %d: in %ld of %ld rounds, %ld calls after CPUID ran an old encoding\n", i,
                   c->stale_rounds, rounds, c->stale);
            failed = 1;
        }
    }
    if (failed) {
        return 1;
    }
    printf("xmodify: ok, %ld rounds of %ld swaps, %ld calls while swapping\n", rounds, swaps, calls);
    return 0;
}
