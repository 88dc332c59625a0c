/* The subscribers of one router-trie node: (sub, qos) pairs in an array with
 * swap-remove, plus a hash index from sub pointer to array position once the
 * node is popular, so adding and removing stay O(1) at 100k subscribers while
 * a node with one subscriber costs one small allocation. Internal to broker/. */
#ifndef STARLING_BROKER_SUB_SET_H
#define STARLING_BROKER_SUB_SET_H

#include <stdint.h>

struct sub_entry {
    void *sub;
    uint8_t qos;
};

struct sub_set {
    struct sub_entry *v;
    uint32_t *idx; /* 2 * cap slots holding position + 1 (0: empty), or NULL */
    uint32_t n, cap;
};

#define SUB_SET_NONE UINT32_MAX

void sub_set_init(struct sub_set *s);
void sub_set_free(struct sub_set *s);
/* Position of sub, or SUB_SET_NONE. */
uint32_t sub_set_find(const struct sub_set *s, const void *sub);
/* sub must be absent. 0, or -1 on out of memory (set unchanged). */
int sub_set_add(struct sub_set *s, void *sub, uint8_t qos);
/* Moves the last entry into position i. Never fails. */
void sub_set_remove_at(struct sub_set *s, uint32_t i);

#endif
