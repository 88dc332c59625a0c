/* What an epoll event points at: every pollable object starts with a struct
 * io, so one dispatch switch in the event loop finds its handler. */
#ifndef STARLING_BROKER_IO_H
#define STARLING_BROKER_IO_H

enum io_kind { IO_LISTENER, IO_CONN, IO_SIGNAL, IO_STORE };

struct io {
    int fd;
    enum io_kind kind;
};

#endif
