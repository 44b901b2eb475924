/* delay_proxy: a loopback TCP proxy that adds a fixed one-way delay in each direction, so a
 * client and a server on 127.0.0.1 see a wide-area round-trip time.
 *
 *   delay_proxy LISTEN_PORT BACKEND_PORT ONE_WAY_MS
 *
 * LISTEN_PORT 0 picks a free port. When it listens it prints "port N" on stdout.
 * Runs until killed.
 *
 * Why a proxy: this kernel has no netem qdisc, and a proxy needs no privileges. Every byte read
 * from one side is written to the other ONE_WAY_MS later, in order; an EOF is passed on
 * (shutdown) with the same delay. A new connection is not read from during its first round
 * trip (2 x ONE_WAY_MS), which stands in for the TCP handshake that a real RTT would add to
 * each connect: the client's first request then answers after 2 RTTs, as it would on a WAN.
 * Bandwidth is not limited. Delays are kept with millisecond resolution.
 *
 * Single thread, epoll. Since the delay is the same for every chunk, due times come in the
 * order chunks are read, so one FIFO holds all of them; the handshake holds use a second FIFO
 * for the same reason. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE 65536
/* Stop reading a side while this much of its data waits for the other side: bounds memory
 * when one peer is slow. */
#define PENDING_LIMIT (4u << 20)

typedef struct dp_conn dp_conn;

typedef struct dp_chunk {
    struct dp_chunk *next;      /* in the global FIFO, then in the half's output list */
    struct dp_chunk *fifo_next; /* unused once delivered */
    dp_conn *conn;
    int half;
    uint64_t due_ms;
    size_t len, off;
    int eof;
    char data[];
} dp_chunk;

typedef struct {
    dp_conn *conn;
    int idx; /* 0 client, 1 backend */
    int fd;
    uint32_t mask; /* current epoll mask */
    int unwatched; /* removed from epoll: both directions of this socket are finished */
} dp_end;

typedef struct {
    dp_chunk *out_head, *out_tail; /* due, waiting to be written */
    size_t pending;                /* bytes read but not yet written */
    int src_closed;                /* read EOF seen */
    int dst_shut;                  /* EOF delivered */
} dp_half;

struct dp_conn {
    dp_end end[2];
    dp_half half[2]; /* 0: client -> backend, 1: backend -> client */
    int refs;        /* chunks still in the FIFO */
    int dead;
    int holding; /* in its handshake round trip: client not read yet */
    uint64_t hold_until;
    dp_conn *hold_next, *grave_next;
};

static int g_ep;
static uint64_t g_delay;
static struct sockaddr_in g_backend;
static dp_chunk *g_fifo_head, *g_fifo_tail;
static dp_conn *g_hold_head, *g_hold_tail;
static dp_conn *g_grave;
static long g_live;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_mask(dp_end *e, uint32_t mask) {
    if (e->fd < 0 || e->unwatched || e->mask == mask)
        return;
    struct epoll_event ev = {.events = mask, .data.ptr = e};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, e->fd, &ev);
    e->mask = mask;
}

/* what each end waits for: input when it is a source that is not closed, not held and not over
 * its pending limit; output when data for it is waiting */
static void update_masks(dp_conn *c) {
    if (c->dead)
        return;
    for (int i = 0; i < 2; i++) {
        dp_half *src = &c->half[i];     /* data read from end i */
        dp_half *dst = &c->half[1 - i]; /* data written to end i */
        uint32_t m = 0;
        if (!src->src_closed && src->pending < PENDING_LIMIT && !(i == 0 && c->holding))
            m |= EPOLLIN;
        if (dst->out_head)
            m |= EPOLLOUT;
        set_mask(&c->end[i], m);
    }
}

static void kill_conn(dp_conn *c) {
    if (c->dead)
        return;
    c->dead = 1;
    g_live--;
    for (int i = 0; i < 2; i++) {
        if (c->end[i].fd >= 0)
            close(c->end[i].fd);
        c->end[i].fd = -1;
        for (dp_chunk *k = c->half[i].out_head, *n; k; k = n) {
            n = k->next;
            free(k);
        }
        c->half[i].out_head = c->half[i].out_tail = NULL;
    }
    /* freed after the current epoll batch (events may still point at it), and only when no
     * chunk in the FIFO and no hold entry refers to it */
    c->grave_next = g_grave;
    g_grave = c;
}

static void bury(void) {
    dp_conn **pp = &g_grave;
    while (*pp) {
        dp_conn *c = *pp;
        if (c->refs == 0 && !c->holding) {
            *pp = c->grave_next;
            free(c);
        } else {
            pp = &c->grave_next;
        }
    }
}

static void maybe_finish(dp_conn *c) {
    if (c->half[0].dst_shut && c->half[1].dst_shut)
        kill_conn(c);
}

static void flush_half(dp_conn *c, int h) {
    dp_half *hf = &c->half[h];
    int dfd = c->end[1 - h].fd;
    while (!c->dead && hf->out_head) {
        dp_chunk *k = hf->out_head;
        if (k->eof) {
            shutdown(dfd, SHUT_WR);
            hf->dst_shut = 1;
        } else {
            ssize_t w = send(dfd, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)
                    break;
                if (errno == EINTR)
                    continue;
                kill_conn(c);
                return;
            }
            k->off += (size_t)w;
            hf->pending -= (size_t)w;
            if (k->off < k->len)
                break;
        }
        hf->out_head = k->next;
        if (!hf->out_head)
            hf->out_tail = NULL;
        free(k);
    }
    if (!c->dead) {
        maybe_finish(c);
        update_masks(c);
    }
}

static void read_side(dp_conn *c, int i) {
    dp_half *hf = &c->half[i];
    uint64_t due = now_ms() + g_delay;
    for (int rounds = 0; rounds < 16 && !c->dead && !hf->src_closed && hf->pending < PENDING_LIMIT;
         rounds++) {
        dp_chunk *k = malloc(sizeof *k + READ_SIZE);
        if (!k) {
            kill_conn(c);
            return;
        }
        ssize_t r = recv(c->end[i].fd, k->data, READ_SIZE, 0);
        if (r < 0 && errno == EINTR) {
            free(k);
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            free(k);
            break;
        }
        if (r < 0) {
            free(k);
            kill_conn(c);
            return;
        }
        if (r < READ_SIZE) {
            dp_chunk *s = realloc(k, sizeof *k + (size_t)r);
            if (s)
                k = s;
        }
        k->next = NULL;
        k->fifo_next = NULL;
        k->conn = c;
        k->half = i;
        k->due_ms = due;
        k->len = (size_t)r;
        k->off = 0;
        k->eof = r == 0;
        if (r == 0)
            hf->src_closed = 1;
        hf->pending += (size_t)r;
        c->refs++;
        if (g_fifo_tail)
            g_fifo_tail->fifo_next = k;
        else
            g_fifo_head = k;
        g_fifo_tail = k;
        if (r < READ_SIZE)
            break;
    }
    update_masks(c);
}

static void deliver_due(uint64_t now) {
    while (g_fifo_head && g_fifo_head->due_ms <= now) {
        dp_chunk *k = g_fifo_head;
        g_fifo_head = k->fifo_next;
        if (!g_fifo_head)
            g_fifo_tail = NULL;
        dp_conn *c = k->conn;
        c->refs--;
        if (c->dead) {
            free(k);
            continue;
        }
        dp_half *hf = &c->half[k->half];
        k->next = NULL;
        if (hf->out_tail)
            hf->out_tail->next = k;
        else
            hf->out_head = k;
        hf->out_tail = k;
        flush_half(c, k->half);
    }
    while (g_hold_head && g_hold_head->hold_until <= now) {
        dp_conn *c = g_hold_head;
        g_hold_head = c->hold_next;
        if (!g_hold_head)
            g_hold_tail = NULL;
        c->holding = 0;
        if (!c->dead) {
            update_masks(c);
            read_side(c, 0); /* data may already be waiting; edge cases need no wakeup */
        }
    }
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void accept_all(int lfd) {
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (cfd < 0)
            return; /* EAGAIN, or EMFILE: the backlog keeps the rest */
        int sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        dp_conn *c = calloc(1, sizeof *c);
        if (sfd < 0 || !c) {
            close(cfd);
            if (sfd >= 0)
                close(sfd);
            free(c);
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(sfd, (struct sockaddr *)&g_backend, sizeof g_backend) < 0 &&
            errno != EINPROGRESS) {
            close(cfd);
            close(sfd);
            free(c);
            continue;
        }
        g_live++;
        c->end[0] = (dp_end){c, 0, cfd, 0, 0};
        c->end[1] = (dp_end){c, 1, sfd, 0, 0};
        for (int i = 0; i < 2; i++) {
            struct epoll_event ev = {.events = 0, .data.ptr = &c->end[i]};
            epoll_ctl(g_ep, EPOLL_CTL_ADD, c->end[i].fd, &ev);
        }
        c->holding = 1;
        c->hold_until = now_ms() + 2 * g_delay;
        if (g_hold_tail)
            g_hold_tail->hold_next = c;
        else
            g_hold_head = c;
        g_hold_tail = c;
        update_masks(c);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: delay_proxy LISTEN_PORT BACKEND_PORT ONE_WAY_MS\n");
        return 2;
    }
    int lport = atoi(argv[1]), bport = atoi(argv[2]);
    g_delay = (uint64_t)strtoull(argv[3], NULL, 10);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&g_backend, 0, sizeof g_backend);
    g_backend.sin_family = AF_INET;
    g_backend.sin_port = htons((uint16_t)bport);
    g_backend.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in la = {0};
    la.sin_family = AF_INET;
    la.sin_port = htons((uint16_t)lport);
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t ll = sizeof la;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof la) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&la, &ll) < 0) {
        perror("delay_proxy: listen");
        return 1;
    }
    set_nonblock(lfd);
    g_ep = epoll_create1(0);
    dp_end lend = {NULL, -1, lfd, EPOLLIN, 0};
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &lend};
    epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &lev);
    printf("port %d\n", ntohs(la.sin_port));
    fflush(stdout);

    struct epoll_event evs[512];
    for (;;) {
        int timeout = -1;
        uint64_t now = now_ms();
        uint64_t next = UINT64_MAX;
        if (g_fifo_head)
            next = g_fifo_head->due_ms;
        if (g_hold_head && g_hold_head->hold_until < next)
            next = g_hold_head->hold_until;
        if (next != UINT64_MAX)
            timeout = next <= now ? 0 : (int)(next - now);
        int n = epoll_wait(g_ep, evs, 512, timeout);
        for (int i = 0; i < n; i++) {
            dp_end *e = evs[i].data.ptr;
            if (!e->conn) {
                accept_all(lfd);
                continue;
            }
            dp_conn *c = e->conn;
            if (c->dead)
                continue;
            uint32_t ev = evs[i].events;
            if (ev & EPOLLOUT)
                flush_half(c, 1 - e->idx);
            if (!c->dead && (ev & EPOLLERR)) {
                kill_conn(c);
                continue;
            }
            if (!c->dead && (ev & (EPOLLIN | EPOLLHUP)) && !(e->idx == 0 && c->holding))
                read_side(c, e->idx);
            /* a hung-up socket is reported on every wait whatever the mask: once nothing more
             * goes in or out of it, stop watching it so the loop does not spin */
            if (!c->dead && (ev & EPOLLHUP)) {
                if (e->idx == 0 && c->holding) {
                    kill_conn(c);
                } else if (c->half[e->idx].src_closed && c->half[1 - e->idx].dst_shut) {
                    epoll_ctl(g_ep, EPOLL_CTL_DEL, e->fd, NULL);
                    e->unwatched = 1;
                }
            }
        }
        deliver_due(now_ms());
        bury();
    }
}
