/* The attacks of issue 7, each run against one running broker (its port and
 * pid) while a canary client measures round trips. The same code serves
 * `make stress` (full size, build/tests/stress/starling-stress) and the
 * reduced-size integration tests (tests/integration/test_attacks.c): only
 * struct attack_size differs. */
#ifndef STARLING_TESTS_STRESS_ATTACK_H
#define STARLING_TESTS_STRESS_ATTACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define N_ATTACKS 9
/* A broker whose RSS passes this is SIGKILLed, so that a failing attack
 * cannot take the machine down (env STRESS_RSS_CAP_MIB overrides). */
#define ATTACK_RSS_CAP_MIB 4096

struct attack_size {
    int sub_packets, sub_filters;           /* 1: SUBSCRIBEs pipelined, filters in each */
    uint64_t flood_bytes;                   /* 2: bytes of small QoS 0 PUBLISHes, */
    int flood_ms;                           /*    and for at least this long */
    int fan_subscribers, fan_ms;            /* 3: never-reading subscribers, flood time */
    int retained, replay_clients, replay_n; /* 4: retained msgs, clients, `ra/#` per SUBSCRIBE */
    int deep_topics, deep_levels;           /* 5: retained topics and filters of that depth */
    int collide_pairs;                      /* 6: 2^pairs colliding levels */
    int pre_conns;                          /* 7: connections streaming one CONNECT */
    uint32_t pre_bytes, pre_announced;      /* 7: bytes sent of the announced size */
    int sessions;                           /* 8: clean=0 ids connecting and leaving */
    int many_filters;                       /* 9: filters one client subscribes */
    int hold_ms;                            /* how long the attack's sockets stay open after it */
    int deadline_ms;                        /* an attack is cut off after this */
};

extern const struct attack_size attack_full, attack_small;

struct attack_result {
    int id;
    const char *name;
    bool completed;             /* the attack did all it meant to do before its deadline */
    long attack_ms;             /* its duration */
    long rss_before_kb, hwm_kb; /* VmRSS before, VmHWM after */
    long canary_worst_us;       /* of the round trips completed */
    int canary_done, canary_lost;
    bool canary_started;
    bool survived;             /* the broker process is still alive after it */
    bool rss_capped;           /* killed by us past ATTACK_RSS_CAP_MIB (the machine's safety) */
    uint64_t granted, refused; /* SUBACK return codes the attacker got (1, 5, 9) */
    uint64_t received;         /* 6: retained messages a c/# subscriber got back */
    char note[160];            /* what the attack saw, for the table */
};

const char *attack_name(int id);
/* Run attack id (1..N_ATTACKS) against the broker; false if it could not
 * even start (no canary). */
bool attack_run(int id, const struct attack_size *sz, int port, pid_t pid, struct attack_result *r);

/* From /proc/<pid>/status, in kB; -1 if unreadable. */
long proc_status_kb(pid_t pid, const char *field);
bool proc_alive(pid_t pid);

/* Build 2^pairs distinct strings of pairs*12 characters whose 32-bit FNV-1a
 * hashes are all equal (Joux multicollision: a colliding pair of 12-byte
 * blocks found by birthday search from each intermediate state). out must
 * hold 2^pairs * (pairs*12 + 1) bytes; returns the string length, 0 on failure. */
size_t fnv_multicollision(int pairs, char *out);

#endif
