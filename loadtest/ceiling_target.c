/*
 * The ceiling benchmark's target: an HTTP/1.1 responder that does as little as a server can.
 *
 * One thread, one epoll loop, non-blocking sockets. Every request head it reads (up to the
 * blank line; the benchmark sends GETs without bodies) is answered with the same fixed
 * 200 response, in order, on a kept-alive connection. It parses nothing else, so on one core
 * it answers far more requests per second than one client core can send: whatever limits a
 * round is the client.
 *
 *     cc -O2 -o ceiling_target ceiling_target.c && ./ceiling_target PORT
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define READ_SIZE 65536
#define MAX_BATCH 256

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 15\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

/* Per connection: how far into "\r\n\r\n" the previous read ended. */
static unsigned char matched[1 << 20];

static int count_heads(int fd, const char *data, ssize_t size) {
    static const char END[] = "\r\n\r\n";
    int heads = 0;
    unsigned char state = matched[fd];
    for (ssize_t i = 0; i < size; i++) {
        if (data[i] == END[state]) {
            if (++state == 4) {
                heads++;
                state = 0;
            }
        } else {
            state = data[i] == '\r' ? 1 : 0;
        }
    }
    matched[fd] = state;
    return heads;
}

static int answer(int fd, int heads) {
    static char batch[MAX_BATCH * sizeof(RESPONSE)];
    size_t one = sizeof(RESPONSE) - 1;
    while (heads > 0) {
        int now = heads < MAX_BATCH ? heads : MAX_BATCH;
        for (int i = 0; i < now; i++) memcpy(batch + i * one, RESPONSE, one);
        size_t left = now * one;
        const char *at = batch;
        while (left > 0) {
            ssize_t sent = send(fd, at, left, MSG_NOSIGNAL);
            if (sent < 0) {
                if (errno == EINTR) continue;
                return -1; /* a client that stops reading is a client gone */
            }
            at += sent;
            left -= sent;
        }
        heads -= now;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0 ||
        listen(listener, 4096) < 0) {
        perror("listen");
        return 1;
    }
    int poller = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[MAX_EVENTS];
    static char buffer[READ_SIZE];
    for (;;) {
        int ready = epoll_wait(poller, events, MAX_EVENTS, -1);
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (client >= (int)sizeof(matched)) {
                        close(client);
                        continue;
                    }
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    matched[client] = 0;
                    struct epoll_event watch = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(poller, EPOLL_CTL_ADD, client, &watch);
                }
                continue;
            }
            ssize_t size = recv(fd, buffer, sizeof(buffer), 0);
            if (size > 0) {
                if (answer(fd, count_heads(fd, buffer, size)) == 0) continue;
            } else if (size < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            close(fd); /* closing removes it from the epoll set */
        }
    }
}
