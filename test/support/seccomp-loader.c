/*
 * Loads a seccomp filter built from a rules file with libseccomp, then execs a command under it: what a
 * container runtime does with deploy/seccomp/tessera-node.json, for a test on a machine without one.
 * Built by the test against the system's libseccomp.so.2 (no development headers needed: the few
 * declarations below are libseccomp's stable ABI).
 *
 *   seccomp-loader RULES -- COMMAND ARGS...
 *
 * RULES, one per line (written by test/support/seccomp.ts from the JSON profile):
 *   default ERRNO
 *   ALLOW name
 *   ERRNO errno name
 *   ALLOW_IF name index op value value_two      (op: EQ or MASKED_EQ)
 * A name this architecture does not have is skipped, as runtimes skip it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void *scmp_filter_ctx;
struct scmp_arg_cmp {
  unsigned int arg;
  int op;
  uint64_t datum_a;
  uint64_t datum_b;
};
scmp_filter_ctx seccomp_init(uint32_t def_action);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                           const struct scmp_arg_cmp *arg_array);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_load(scmp_filter_ctx ctx);

#define SCMP_ACT_ALLOW 0x7fff0000U
#define SCMP_ACT_ERRNO(x) (0x00050000U | ((x) & 0x0000ffffU))
#define SCMP_CMP_EQ 4
#define SCMP_CMP_MASKED_EQ 7
#define NR_SCMP_ERROR (-1)

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "seccomp-loader: %s: %s\n", what, detail);
  exit(125);
}

int main(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) fail("usage", "seccomp-loader RULES -- COMMAND ARGS...");
  FILE *rules = fopen(argv[1], "r");
  if (!rules) fail("cannot open", argv[1]);
  char line[512];
  scmp_filter_ctx ctx = NULL;
  while (fgets(line, sizeof line, rules)) {
    line[strcspn(line, "\n")] = 0;
    char kind[32], name[64], op[32];
    unsigned int index;
    unsigned long long value, value_two;
    int errno_ret;
    if (sscanf(line, "default ERRNO %d", &errno_ret) == 1) {
      ctx = seccomp_init(SCMP_ACT_ERRNO(errno_ret));
      if (!ctx) fail("seccomp_init", line);
      continue;
    }
    if (!ctx) fail("the first rule must be", "default ERRNO n");
    int rc = 0;
    if (sscanf(line, "ALLOW_IF %63s %u %31s %llu %llu", name, &index, op, &value, &value_two) == 5) {
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == NR_SCMP_ERROR) continue;
      struct scmp_arg_cmp cmp = {index, strcmp(op, "MASKED_EQ") == 0 ? SCMP_CMP_MASKED_EQ : SCMP_CMP_EQ,
                                 value, value_two};
      if (strcmp(op, "EQ") != 0 && strcmp(op, "MASKED_EQ") != 0) fail("unknown op", op);
      rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
    } else if (sscanf(line, "ERRNO %d %63s", &errno_ret, name) == 2) {
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == NR_SCMP_ERROR) continue;
      rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(errno_ret), nr, 0, NULL);
    } else if (sscanf(line, "%31s %63s", kind, name) == 2 && strcmp(kind, "ALLOW") == 0) {
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == NR_SCMP_ERROR) continue;
      rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, NULL);
    } else {
      fail("bad rule", line);
    }
    if (rc != 0) fail("seccomp_rule_add", line);
  }
  fclose(rules);
  if (!ctx) fail("no rules in", argv[1]);
  /* libseccomp sets no_new_privs first (as --security-opt no-new-privileges does). */
  if (seccomp_load(ctx) != 0) fail("seccomp_load", "refused");
  execvp(argv[3], argv + 3);
  perror("seccomp-loader: exec");
  return 126;
}
