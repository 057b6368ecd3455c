/*
 * fuzz_common - helpers shared by the libFuzzer harnesses (header-only: each
 * harness is one translation unit linked against the project objects).
 *
 *  - fuzz_walk(): read every field of a decoded protobuf-c tree the way a
 *    caller would, so that a short or dangling pointer left by a decoder
 *    shows up under ASan at the decode, not in production later;
 *  - fuzz_scratch(): a private scratch directory (tmpfs when there is one),
 *    /dev/shm/fedra-fuzz-PID, removed at exit or by the next run;
 *  - fuzz_write(): replace a file's contents with the fuzz input;
 *  - fuzz_ca(): a throw-away federation CA in the scratch directory with
 *    node certificates, a hub certificate and a CRL, for the harnesses that
 *    need real PKI.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "certs/ca.h"
#include "lib/util.h"

#define FUZZ_PATH_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fold every byte reachable from m into a checksum the compiler cannot drop. */
static inline uint64_t
fuzz_walk(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    uint64_t sum = d->n_fields;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        size_t count = 1;
        const char *items = base;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)((const char *)m + f->quantifier_offset);
            items = *(const char *const *)base;
        }
        for (size_t k = 0; k < count; k++) {
            switch (f->type) {
            case PROTOBUF_C_TYPE_STRING: {
                const char *s = ((const char *const *)items)[k];
                sum += strlen(s);
                break;
            }
            case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b = &((const ProtobufCBinaryData *)items)[k];
                for (size_t j = 0; j < b->len; j++)
                    sum += b->data[j];
                break;
            }
            case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub = ((const ProtobufCMessage *const *)items)[k];
                if (sub != NULL)
                    sum += fuzz_walk(sub);
                break;
            }
            case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
                sum += ((const uint64_t *)items)[k];
                break;
            case PROTOBUF_C_TYPE_BOOL:
                sum += ((const protobuf_c_boolean *)items)[k];
                break;
            default:                /* 32-bit scalars and enums */
                sum += ((const uint32_t *)items)[k];
                break;
            }
        }
    }
    return sum;
}

static char fuzz_scratch_dir[FUZZ_PATH_MAX];

static inline int
fuzz_unlink(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void
fuzz_scratch_remove(void)
{
    if (fuzz_scratch_dir[0] != 0 &&
        nftw(fuzz_scratch_dir, fuzz_unlink, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fuzz_scratch_dir);
}

/*
 * libFuzzer often leaves with _Exit() (time limit, crash), so atexit alone
 * cannot be trusted to clean up: the directory is named after the pid, and
 * each harness removes the directories of processes that no longer exist.
 */
static inline void
fuzz_sweep(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *de;
    char path[FUZZ_PATH_MAX];
    while (d != NULL && (de = readdir(d)) != NULL) {
        char *end;
        if (strncmp(de->d_name, "fedra-fuzz-", 11) != 0)
            continue;
        long pid = strtol(de->d_name + 11, &end, 10);
        if (*end != 0 || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;               /* not ours, or its process is alive */
        snprintf(path, sizeof path, "%s/%s", base, de->d_name);
        nftw(path, fuzz_unlink, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (d != NULL)
        closedir(d);
}

/* The scratch directory, created on first use; aborts if it cannot be made. */
static inline const char *
fuzz_scratch(void)
{
    if (fuzz_scratch_dir[0] != 0)
        return fuzz_scratch_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    fuzz_sweep(base);
    snprintf(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "%s/fedra-fuzz-%ld", base,
        (long)getpid());
    if (mkdir(fuzz_scratch_dir, 0700) != 0) {
        perror("fuzz: mkdir scratch");
        abort();
    }
    atexit(fuzz_scratch_remove);
    return fuzz_scratch_dir;
}

/* dir/name into out (FUZZ_PATH_MAX bytes). */
static inline void
fuzz_path(char *out, const char *name)
{
    snprintf(out, FUZZ_PATH_MAX, "%s/%s", fuzz_scratch(), name);
}

static inline void
fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) != 0) {
        perror("fuzz: write input");
        abort();
    }
}

static inline void
fuzz_check(int rc, const char *what, const char *err)
{
    if (rc != 0) {
        fprintf(stderr, "fuzz: %s: %s\n", what, err);
        abort();
    }
}

/*
 * In the scratch directory: ca/ (ca.crt, crl.pem), and node certificates
 * nodes/N1.crt and nodes/N2.crt with their keys.  Once per process.
 */
static inline void
fuzz_ca(void)
{
    char ca_dir[FUZZ_PATH_MAX], out[FUZZ_PATH_MAX], crl[FUZZ_PATH_MAX], err[FEDRA_ERRLEN];
    char serial[CA_SERIAL_LEN];
    struct ca *ca = NULL;
    int64_t number;
    fuzz_path(ca_dir, "ca");
    fuzz_path(out, "nodes");
    fuzz_path(crl, "ca/crl.pem");
    if (access(crl, R_OK) == 0)
        return;
    if (mkdir(out, 0700) != 0) {
        perror("fuzz: mkdir");
        abort();
    }
    fuzz_check(ca_init(ca_dir, "fuzz CA", 30, 0, err), "ca_init", err);
    fuzz_check(ca_open(ca_dir, &ca, err), "ca_open", err);
    const char *names[] = {"N1", "N2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct ca_issue_req req = {.role = PKI_ROLE_NODE, .name = names[i], .out_dir = out, .days = 10};
        fuzz_check(ca_issue(ca, &req, serial, err), "ca_issue", err);
    }
    /* A hub certificate too, for a federation file's hub line (nodes/H.crt). */
    struct ca_issue_req hub = {.role = PKI_ROLE_HUB, .name = "H", .out_dir = out, .days = 10};
    fuzz_check(ca_issue(ca, &hub, serial, err), "ca_issue", err);
    fuzz_check(ca_crl(ca, crl, 7, 0, &number, err), "ca_crl", err);
    ca_free(ca);
}

#endif /* !FUZZ_COMMON_H */
