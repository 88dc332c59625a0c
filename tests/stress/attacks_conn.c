/* Attacks 7 and 8, on connections that are not (yet) clients: streaming
 * one huge CONNECT slowly, and many persistent sessions left behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/mqtt.h"
#include "tests/stress/attack_impl.h"

#define PRE_CHUNK (64u * 1024)
#define PRE_PAUSE_MS 50 /* between rounds: a slow, steady stream */

/* The start of a CONNECT announcing `announced` bytes: fixed header,
 * variable header, and a client id field that claims the rest. */
static void big_connect_head(struct st_buf *b, uint32_t announced)
{
    uint8_t rl[4];
    size_t k = mqtt_remlen_encode(rl, announced);
    sb_u8(b, 0x10);
    sb_mem(b, rl, k);
    sb_str(b, "MQTT", 4);
    sb_u8(b, 4);
    sb_u8(b, 0x02);
    sb_u16(b, 600);
    sb_u16(b, 0xffff);
}

bool atk_preconnect(const struct attack_size *sz, int port, struct attack_result *r)
{
    long dl = atk_deadline(sz);
    int n = sz->pre_conns, *fds = malloc((size_t)n * sizeof *fds), cut = 0;
    uint8_t *zeros = calloc(1, PRE_CHUNK);
    struct st_buf head = {0};
    big_connect_head(&head, sz->pre_announced);
    for (int i = 0; i < n; i++) {
        fds[i] = st_tcp(port, 0);
        if (fds[i] >= 0 && st_send_noread(fds[i], head.d, head.n, dl) < 0)
            close(fds[i]), fds[i] = -1;
    }
    uint32_t sent = (uint32_t)head.n;
    for (; sent < sz->pre_bytes && st_now_ms() < dl; sent += PRE_CHUNK) {
        for (int i = 0; i < n; i++)
            if (fds[i] >= 0 && st_send_noread(fds[i], zeros, PRE_CHUNK, st_now_ms() + 2000) == -1)
                close(fds[i]), fds[i] = -1, cut++;
        st_sleep_ms(PRE_PAUSE_MS);
    }
    int open = 0;
    for (int i = 0; i < n; i++)
        open += fds[i] >= 0;
    snprintf(r->note, sizeof r->note, "%d conns x %u KiB of a %u MiB CONNECT; %d cut, %d open", n,
             sent >> 10, (sz->pre_announced + 5) >> 20, cut, open);
    atk_hold(sz);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(fds);
    free(zeros);
    sb_free(&head);
    return sent >= sz->pre_bytes;
}

#define SESSION_BATCH 100

/* CONNECT clean=0 ids [from, to), wait for each CONNACK, DISCONNECT. */
static int session_batch(int port, int from, int to, long dl, int *refused)
{
    struct st_peer p[SESSION_BATCH];
    struct st_buf b = {0};
    static const uint8_t disc[2] = {0xe0, 0};
    int done = 0;
    for (int i = from; i < to; i++) {
        char id[32];
        snprintf(id, sizeof id, "stress-session-%06d", i);
        b.n = 0;
        sb_connect(&b, id, false, 600);
        p[i - from] = (struct st_peer){.fd = -1};
        if (st_peer_open(&p[i - from], port, 0)) st_peer_send(&p[i - from], b.d, b.n, dl);
    }
    for (int i = 0; i < to - from; i++) {
        if (p[i].fd >= 0 && st_peer_wait(&p[i], MQTT_CONNACK, 1, dl) == 0) {
            done++;
            *refused += p[i].connack_code != 0;
            st_peer_send(&p[i], disc, 2, dl);
        }
        st_peer_close(&p[i]);
    }
    sb_free(&b);
    return done;
}

bool atk_sessions(const struct attack_size *sz, int port, struct attack_result *r)
{
    long dl = atk_deadline(sz);
    int done = 0, refused = 0;
    for (int i = 0; i < sz->sessions && st_now_ms() < dl; i += SESSION_BATCH) {
        int to = i + SESSION_BATCH < sz->sessions ? i + SESSION_BATCH : sz->sessions;
        done += session_batch(port, i, to, dl, &refused);
    }
    r->refused = (uint64_t)refused;
    snprintf(r->note, sizeof r->note, "%d of %d clean=0 ids connected, %d refused", done,
             sz->sessions, refused);
    atk_hold(sz);
    return done == sz->sessions;
}
