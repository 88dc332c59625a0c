/* A set of 16-bit packet ids (the inbound QoS 2 ids awaiting PUBREL): a short
 * array while it holds few, which is the normal case, and a 65536-bit map
 * once it holds more, so that a client keeping thousands of ids open costs
 * O(1) per packet and 8 KiB at most, never a scan of everything it holds.
 * An empty set holds no memory. */
#ifndef STARLING_BROKER_ID_SET_H
#define STARLING_BROKER_ID_SET_H

#include <stdbool.h>
#include <stdint.h>

struct id_set {
    void *p;      /* uint16_t[cap] while cap <= ID_SET_ARRAY_MAX, else the bit map */
    uint32_t n;   /* ids held */
    uint32_t cap; /* array capacity, or ID_SET_BITMAP */
};

#define ID_SET_ARRAY_MAX 32u
#define ID_SET_BITMAP UINT32_MAX

/* 1 if added, 0 if already present, -1 on out of memory (set unchanged). */
int id_set_add(struct id_set *s, uint16_t id);
/* True if id was present. */
bool id_set_remove(struct id_set *s, uint16_t id);
void id_set_free(struct id_set *s);

#endif
