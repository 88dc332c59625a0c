/* Delivery verification: each payload carries (publisher id, sequence,
 * send time). Per subscriber and publisher a bitmap of the sequences seen
 * gives distinct, duplicated and out-of-order counts; latencies go into one
 * 1-microsecond histogram. */
#ifndef STARLING_BENCH_TRACK_H
#define STARLING_BENCH_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STAMP_BYTES 20 /* u32 publisher id, u64 sequence, u64 send time (ns) */
#define LAT_MAX_US 1000000u

struct stream {
    uint8_t *seen; /* one bit per sequence number */
    uint64_t distinct, dup, ooo;
    int64_t max_seq; /* highest sequence seen, -1 before the first */
};

struct track {
    int subs, pubs;
    uint64_t per_pub; /* sequences run 0 .. per_pub-1 */
    struct stream *s; /* subs * pubs */
    uint32_t *lat;    /* LAT_MAX_US + 1 buckets, the last one is overflow */
    uint64_t lat_n;
};

bool track_init(struct track *t, int subs, int pubs, uint64_t per_pub);
void track_free(struct track *t);

/* Writes the stamp into a payload of at least STAMP_BYTES. */
void stamp_write(uint8_t *payload, uint32_t pub, uint64_t seq, int64_t now_ns);
/* The publisher id of a stamped payload (at least STAMP_BYTES long). */
uint32_t stamp_pub(const uint8_t *payload);

/* Records one delivery to subscriber `sub`: 1 for a new sequence, 0 for a
 * duplicate, -1 for a payload that is not ours (too short, unknown
 * publisher, sequence out of range). */
int track_record(struct track *t, int sub, const uint8_t *payload, size_t len, int64_t now_ns);

bool track_seen(const struct track *t, int sub, int pub, uint64_t seq);

/* Sums over all streams; lost counts sequences below `sent[pub]` never seen. */
void track_totals(const struct track *t, const uint64_t *sent, uint64_t *distinct, uint64_t *dup,
                  uint64_t *ooo, uint64_t *lost);

/* Latency percentile (0 < p <= 1) in microseconds; 0 with no samples. */
uint64_t track_percentile(const struct track *t, double p);

#endif
