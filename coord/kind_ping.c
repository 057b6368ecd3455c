/*
 * kind_ping - the ping kind and command: does every node answer, with which
 * software and certificate?  Touches no data.  Unlike the other kinds it
 * reports even when no node answered: the answer is the list of nodes.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "coord/kind.h"
#include "lib/util.h"

static int
check_ping(const Fedra__QuerySpec *spec, const Fedra__ResponseBody *b, char *why)
{
    (void)spec;
    return b->ping == NULL ? errf(why, "answered a ping without ping details") : 0;
}

static const char *
iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

/* The node's ping details, or NULL if it did not answer. */
static const Fedra__PingResult *
ping_of(const struct node_reply *p)
{
    return p->status == NODE_OK && p->body != NULL ? p->body->ping : NULL;
}

static int
ping_json(const struct report *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const Fedra__PingResult *pg = ping_of(&r->replies[i]);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(r->fed->nodes[i].name));
        if (pg != NULL) {
            char t[32];
            json_object_set_new(o, "software", json_string(pg->software));
            json_object_set_new(o, "cert_not_after", json_string(iso(pg->cert_not_after_ms, t)));
        }
        json_array_append_new(a, o);
    }
    return report_emit_json(r, a);
}

/* CSV: name,status,ms,rows,cert_not_after,reason, then software and nodes. */
static void
ping_csv(const struct report *r)
{
    FILE *f = r->out;
    struct buf tail = {0};
    report_tail_nodes(&tail, r);
    fputs("name,status,ms,rows,cert_not_after,reason,software,nodes\n", f);
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const struct node_reply *p = &r->replies[i];
        const Fedra__PingResult *pg = ping_of(p);
        char t[32];
        report_csv_field(f, r->fed->nodes[i].name);
        fprintf(f, ",%s,%.1f,", client_status_name(p->status), p->ms);
        if (pg != NULL)
            fprintf(f, "%" PRIu64 ",%s,", p->body->data_rows, iso(pg->cert_not_after_ms, t));
        else
            fputs(",,", f);
        report_csv_field(f, p->status == NODE_OK ? "" : p->reason);
        fputc(',', f);
        report_csv_field(f, pg != NULL ? pg->software : "");
        fprintf(f, "%s\n", report_tail_text(&tail));
    }
    buf_release(&tail);
}

static void
ping_table(const struct report *r)
{
    FILE *f = r->out;
    for (size_t i = 0; i < r->fed->nnodes; i++) {
        const struct node_reply *p = &r->replies[i];
        const Fedra__PingResult *pg = ping_of(p);
        char t[32];
        if (pg != NULL)
            fprintf(f, "%-12s ok       %6.1f ms  %" PRIu64 " rows  %s  certificate valid until %s\n",
                r->fed->nodes[i].name, p->ms, p->body->data_rows, pg->software,
                iso(pg->cert_not_after_ms, t));
        else
            fprintf(f, "%-12s %-8s %s\n", r->fed->nodes[i].name, client_status_name(p->status),
                p->reason);
    }
}

/* The answers, node by node, then warnings about certificates that expire soon. */
static int
ping_report(const struct report *r, const Fedra__QuerySpec *spec, const struct coord_show *show,
    char *err)
{
    (void)spec;
    (void)show;
    (void)err;
    if (r->format == REPORT_JSON)
        ping_json(r);
    else if (r->format == REPORT_CSV)
        ping_csv(r);
    else
        ping_table(r);
    client_warn_ping(r->fed, r->replies, stderr);
    return 0;
}

const struct coord_kind kind_ping = {
    FEDRA__KIND__KIND_PING, "ping", check_ping, ping_report, 1,
};

static int
parse_ping(int argc, char **argv, struct coord_query *q)
{
    if (argc > 1)
        return coord_usage_error("ping: unexpected argument '%s'", argv[1]);
    q->spec.kind = FEDRA__KIND__KIND_PING;
    return 0;
}

const struct coord_cmd cmd_ping = {
    "ping", "ping",
    "check that every node answers, with its software and certificate (touches no data)",
    NULL,
    "fedra ping",
    COORD_FLOW_ONE_ROUND, {FEDRA__KIND__KIND_PING}, parse_ping,
};
