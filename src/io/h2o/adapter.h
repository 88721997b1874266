/* State shared by the files of the h2o adapter (handler.c, exchange.c,
 * forward.c, log.c). Private to src/io/h2o. */
#ifndef HTTPA_IO_H2O_ADAPTER_H
#define HTTPA_IO_H2O_ADAPTER_H

#include <time.h>

#include "httpa/h2o.h"
#include "h2o_inc.h"
#include "upstream.h"

#define HX_OUT_HIGH (256 * 1024)      /* pause the upstream above this much queued wire */
#define HX_OUT_MAX ((size_t)1 << 30)  /* hard cap of one queued response buffer */
#define HX_TARGET_LOG 512             /* octets of the outer target kept for the log */

/* The registered handler: configuration shared by every thread. */
typedef struct hh_handler {
    h2o_handler_t super;
    httpa_server *srv;
    httpa_h2o_config cfg; /* strings point at the copies below */
    char *upstream;
    char *secrets_path;
    up_addr addr;
    bool has_upstream;
} hh_handler;

/* Per h2o context (event loop thread). */
typedef struct hh_ctx {
    up_pool pool;
    bool has_pool;
} hh_ctx;

/* What goes to the upstream for this exchange. */
typedef enum hx_route {
    HX_ROUTE_NONE,
    HX_ROUTE_TRT,     /* the restored request */
    HX_ROUTE_SECRETS, /* AtSP: the secrets, POSTed to secrets_path */
    HX_ROUTE_PLAIN,   /* passthrough: the request as received */
} hx_route;

struct httpa_h2o_exchange {
    h2o_generator_t gen;
    h2o_req_t *req;
    hh_handler *h;
    hh_ctx *c;
    httpa_txn_kind kind;
    hx_route route;
    httpa_server_txn *txn;  /* AtSP/TrT once opened */
    httpa_msg msg;          /* the request; restored once opened */
    httpa_buf plain;        /* verified request body (sensitive) */
    httpa_buf up_head;      /* upstream request head (sensitive: sealed fields) */
    httpa_buf up_body;      /* AtSP secrets document (sensitive) */
    up_req *up;
    httpa_buf out[2];       /* response wire: one in h2o's hands, one filling */
    int filling;
    bool protect;           /* AtSP/TrT: responses are protected */
    bool head_request;      /* the (restored) method is HEAD */
    bool started;           /* h2o_start_response was called */
    bool sending;           /* an h2o_send is in flight */
    bool fin_queued;
    bool final_sent;
    bool failed;            /* abort the stream at the next chance */
    bool responded;         /* the application answered */
    /* for the access log only: no header value but the Base-ID */
    struct timespec t0;
    char method[24];
    char target[HX_TARGET_LOG + 1];
    char base_id[40];
    int status;
    const char *err_token;
    const char *up_error;
    uint64_t body_in;
    uint64_t body_out;
};

/* exchange.c: answers. */
void hx_send_msg(httpa_h2o_exchange *x, const httpa_msg *resp, httpa_span body);
void hx_error(httpa_h2o_exchange *x, httpa_err err, const char *detail);
httpa_err hx_start(httpa_h2o_exchange *x, httpa_msg *resp, uint64_t content_length,
                   bool has_body) HTTPA_MUST_USE;
httpa_err hx_write(httpa_h2o_exchange *x, const uint8_t *p, size_t n, bool fin) HTTPA_MUST_USE;
void hx_abort(httpa_h2o_exchange *x);
void hx_dispose(void *p);

/* forward.c: the upstream. */
void hx_forward(httpa_h2o_exchange *x);

/* log.c */
void hx_log(const httpa_h2o_exchange *x);

#endif
