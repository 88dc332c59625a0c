/* "limits": the bounds that keep one client or one burst from exhausting the
 * broker. The ranges are what the broker can honour, not recommendations. */
#include "config/sections.h"

#define MAX_PACKET_LIMIT 268435460u /* 1 + 4 + 268435455: the largest MQTT packet */
#define QUEUED_BYTES_LIMIT (UINT64_C(1) << 40)
/* The largest CONNECT MQTT 3.1 or 3.1.1 can express: a 4-byte fixed header,
 * the 12-byte 3.1 variable header, and five 65535-byte fields with their
 * length prefixes. Nothing legal is larger, so nothing legal is refused. */
#define CONNECT_SIZE_MAX (1u + 3u + 12u + 5u * (2u + 65535u))

static const char *const limit_keys[] = {
    "max_connections",
    "max_packet_size",
    "max_inflight",
    "max_queued_messages",
    "max_queued_bytes",
    "max_keepalive",
    "connect_timeout",
    "slow_subscriber_timeout",
    "slow_subscriber_max_bytes",
    "max_qos0_pending_bytes",
    "max_pending_bytes_total",
    "max_connect_size",
    "max_unauthenticated_bytes",
    "max_topic_levels",
    "max_subscriptions_per_client",
    "max_sessions",
    "session_expiry",
    "max_queued_bytes_total",
    "max_retained_bytes",
    "max_input_bytes_total",
};

void config_limits_defaults(struct config *c)
{
    c->limits = (struct limits_config){
        .max_connections = 100000,
        .max_packet_size = 16u * 1024 * 1024,
        .max_inflight = 20,
        .max_queued_messages = 1000,
        .max_queued_bytes = UINT64_C(64) * 1024 * 1024,
        .max_keepalive = 65535,
        .connect_timeout = 10,
        .slow_subscriber_timeout = 30,
        .slow_subscriber_max_bytes = UINT64_C(256) * 1024 * 1024,
        .max_qos0_pending_bytes = UINT64_C(8) * 1024 * 1024,
        .max_pending_bytes_total = UINT64_C(128) * 1024 * 1024,
        .max_connect_size = CONNECT_SIZE_MAX,
        .max_unauthenticated_bytes = UINT64_C(64) * 1024 * 1024,
        .max_topic_levels = 128,
        .max_subscriptions_per_client = 10000,
        .max_sessions = 200000,
        .session_expiry = 7 * 24 * 3600,
        .max_queued_bytes_total = UINT64_C(1) << 30,
        .max_retained_bytes = UINT64_C(1) << 30,
        .max_input_bytes_total = UINT64_C(256) * 1024 * 1024,
    };
}

int config_limits_parse(struct jctx *x, const cJSON *v, struct config *c)
{
    struct limits_config *l = &c->limits;
    if (jcheck_keys(x, v, limit_keys, sizeof limit_keys / sizeof limit_keys[0]) < 0 ||
        jget_u32(x, v, "max_connections", 1, 10000000, &l->max_connections) < 0 ||
        jget_u32(x, v, "max_packet_size", 16, MAX_PACKET_LIMIT, &l->max_packet_size) < 0 ||
        jget_u16(x, v, "max_inflight", 1, 65535, &l->max_inflight) < 0 ||
        jget_u32(x, v, "max_queued_messages", 0, 100000000, &l->max_queued_messages) < 0 ||
        jget_u64(x, v, "max_queued_bytes", 0, QUEUED_BYTES_LIMIT, &l->max_queued_bytes) < 0 ||
        jget_u16(x, v, "max_keepalive", 1, 65535, &l->max_keepalive) < 0 ||
        jget_u32(x, v, "connect_timeout", 1, 3600, &l->connect_timeout) < 0 ||
        jget_u32(x, v, "slow_subscriber_timeout", 1, 86400, &l->slow_subscriber_timeout) < 0 ||
        jget_u64(x, v, "slow_subscriber_max_bytes", 0, QUEUED_BYTES_LIMIT,
                 &l->slow_subscriber_max_bytes) < 0 ||
        jget_u64(x, v, "max_qos0_pending_bytes", 0, QUEUED_BYTES_LIMIT,
                 &l->max_qos0_pending_bytes) < 0 ||
        jget_u64(x, v, "max_pending_bytes_total", 0, QUEUED_BYTES_LIMIT,
                 &l->max_pending_bytes_total) < 0 ||
        jget_u32(x, v, "max_connect_size", 64, CONNECT_SIZE_MAX, &l->max_connect_size) < 0 ||
        jget_u64(x, v, "max_unauthenticated_bytes", 0, QUEUED_BYTES_LIMIT,
                 &l->max_unauthenticated_bytes) < 0 ||
        jget_u32(x, v, "max_topic_levels", 1, 65535, &l->max_topic_levels) < 0 ||
        jget_u32(x, v, "max_subscriptions_per_client", 1, 10000000,
                 &l->max_subscriptions_per_client) < 0 ||
        jget_u32(x, v, "max_sessions", 1, 100000000, &l->max_sessions) < 0 ||
        jget_u32(x, v, "session_expiry", 0, UINT32_MAX, &l->session_expiry) < 0 ||
        jget_u64(x, v, "max_queued_bytes_total", 0, QUEUED_BYTES_LIMIT,
                 &l->max_queued_bytes_total) < 0 ||
        jget_u64(x, v, "max_retained_bytes", 0, QUEUED_BYTES_LIMIT, &l->max_retained_bytes) < 0 ||
        jget_u64(x, v, "max_input_bytes_total", 0, QUEUED_BYTES_LIMIT, &l->max_input_bytes_total) <
            0)
        return -1;
    return 0;
}
