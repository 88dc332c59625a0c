/* For tests and the broker fuzzer only (not called by the broker itself):
 * walks the whole broker state and reports the first inconsistency between
 * connections, sessions, the session table and the subscription trie.
 * O(connections + sessions + subscriptions) per call. */
#ifndef STARLING_BROKER_CHECK_H
#define STARLING_BROKER_CHECK_H

struct broker;

/* NULL if consistent, else a static description of what is wrong. Call it
 * between loop turns (deferred work is done at the end of a turn). */
const char *broker_check(const struct broker *b);

#endif
