/*
 * The floors: what it costs the kernel (and a minimal C loop) to get the data an exporter needs,
 * with no parsing, no state, no exposition. Per walk, by -mode:
 *   files      (default) stat, status and io of every process and, with threads on,
 *              task/<tid>/stat of every thread, each with open/read/close into one reused buffer
 *   stat       only stat of every process and, with threads on, task/<tid>/stat of every thread
 *   taskstats  stat of every process (identity, memory), and the kernel's task accounting over
 *              generic netlink: one TASKSTATS_CMD_ATTR_TGID query per process and, with threads
 *              on, one TASKSTATS_CMD_ATTR_PID query per thread, 256 requests per send(), replies
 *              drained with recvmmsg (needs CAP_NET_ADMIN)
 *
 * It walks once per line read from stdin and answers "<tasks> <wall ns>\n", so the benchmark can
 * drive it like an exporter and measure its CPU from /proc/<pid>/stat the same way.
 *
 *   usage: floor [-threads=0|1] [-mode=files|stat|taskstats] [-procfs DIR]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[64 * 1024];

enum mode { FILES, STAT, TASKSTATS };
static enum mode mode = FILES;

/* ---- taskstats: batched requests ---- */
#define BATCH 256
#define SLOT 8192
static int nl = -1;
static int family;
static char reqs[BATCH][32];
static int nreq;
static char slots[64][SLOT];
static struct mmsghdr msgs[64];
static struct iovec iovs[64];
static long replies;

static void put_attr_request(char *m, int type, int cmd, int attr, const void *data, int len, int seq) {
  struct nlmsghdr *h = (struct nlmsghdr *)m;
  memset(m, 0, NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(NLA_HDRLEN + len));
  h->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(NLA_HDRLEN + len);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = seq;
  struct genlmsghdr *g = NLMSG_DATA(h);
  g->cmd = cmd;
  g->version = 1;
  struct nlattr *a = (struct nlattr *)((char *)g + GENL_HDRLEN);
  a->nla_type = attr;
  a->nla_len = NLA_HDRLEN + len;
  memcpy((char *)a + NLA_HDRLEN, data, len);
}

static int drain(void) {
  int got = 0;
  for (;;) {
    int n = recvmmsg(nl, msgs, 64, MSG_DONTWAIT, NULL);
    if (n <= 0) return got;
    got += n;
    replies += n;
  }
}

static void flush(void) {
  if (nreq == 0) return;
  struct iovec iov[BATCH];
  for (int i = 0; i < nreq; i++) iov[i] = (struct iovec){reqs[i], ((struct nlmsghdr *)reqs[i])->nlmsg_len};
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = nreq};
  sendmsg(nl, &mh, 0);
  drain();
  nreq = 0;
}

static void query(int attr, unsigned id) {
  put_attr_request(reqs[nreq], family, TASKSTATS_CMD_GET, attr, &id, 4, nreq);
  if (++nreq == BATCH) flush();
}

static int taskstats_open(void) {
  nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  struct sockaddr_nl a = {.nl_family = AF_NETLINK};
  if (nl < 0 || bind(nl, (struct sockaddr *)&a, sizeof a) < 0) return -1;
  int rcvbuf = 4 << 20;
  setsockopt(nl, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  for (int i = 0; i < 64; i++) {
    iovs[i] = (struct iovec){slots[i], SLOT};
    msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iovs[i], .msg_iovlen = 1};
  }
  char m[64];
  put_attr_request(m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, TASKSTATS_GENL_NAME, sizeof TASKSTATS_GENL_NAME, 0);
  send(nl, m, ((struct nlmsghdr *)m)->nlmsg_len, 0);
  int n = recv(nl, slots[0], SLOT, 0);
  struct nlmsghdr *h = (struct nlmsghdr *)slots[0];
  if (n < 0 || h->nlmsg_type == NLMSG_ERROR) return -1;
  struct nlattr *at = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
  int rem = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
  while (rem >= NLA_HDRLEN) {
    if (at->nla_type == CTRL_ATTR_FAMILY_ID) family = *(__u16 *)((char *)at + NLA_HDRLEN);
    rem -= NLA_ALIGN(at->nla_len);
    at = (struct nlattr *)((char *)at + NLA_ALIGN(at->nla_len));
  }
  /* our own process: fails with EPERM without CAP_NET_ADMIN */
  unsigned self = getpid();
  put_attr_request(m, family, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_TGID, &self, 4, 0);
  send(nl, m, ((struct nlmsghdr *)m)->nlmsg_len, 0);
  n = recv(nl, slots[0], SLOT, 0);
  return family && n > 0 && h->nlmsg_type == family ? 0 : -1;
}

static void read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return; /* exited meanwhile, or not permitted: still a syscall paid */
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static int numeric(const char *s) { return s[0] >= '0' && s[0] <= '9'; }

static long walk(const char *root, int threads) {
  char path[1024];
  long tasks = 0;
  DIR *d = opendir(root);
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!numeric(e->d_name)) continue;
    snprintf(path, sizeof path, "%s/%s/stat", root, e->d_name);
    read_file(path);
    if (mode == FILES) {
      snprintf(path, sizeof path, "%s/%s/status", root, e->d_name);
      read_file(path);
      snprintf(path, sizeof path, "%s/%s/io", root, e->d_name);
      read_file(path);
    } else if (mode == TASKSTATS) {
      query(TASKSTATS_CMD_ATTR_TGID, atoi(e->d_name));
    }
    if (!threads) {
      tasks++;
      continue;
    }
    snprintf(path, sizeof path, "%s/%s/task", root, e->d_name);
    DIR *t = opendir(path);
    if (!t) continue;
    struct dirent *te;
    while ((te = readdir(t)) != NULL) {
      if (!numeric(te->d_name)) continue;
      if (mode == TASKSTATS) {
        query(TASKSTATS_CMD_ATTR_PID, atoi(te->d_name));
      } else {
        snprintf(path, sizeof path, "%s/%s/task/%s/stat", root, e->d_name, te->d_name);
        read_file(path);
      }
      tasks++;
    }
    closedir(t);
  }
  closedir(d);
  flush();
  return tasks;
}

int main(int argc, char **argv) {
  int threads = 1;
  const char *root = "/proc";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-threads=0") == 0 || strcmp(argv[i], "-threads=false") == 0) threads = 0;
    else if (strcmp(argv[i], "-threads=1") == 0 || strcmp(argv[i], "-threads=true") == 0) threads = 1;
    else if (strcmp(argv[i], "-mode=files") == 0) mode = FILES;
    else if (strcmp(argv[i], "-mode=stat") == 0) mode = STAT;
    else if (strcmp(argv[i], "-mode=taskstats") == 0) mode = TASKSTATS;
    else if (strcmp(argv[i], "-procfs") == 0 && i + 1 < argc) root = argv[++i];
    else {
      fprintf(stderr, "usage: floor [-threads=0|1] [-mode=files|stat|taskstats] [-procfs DIR]\n");
      return 2;
    }
  }
  if (mode == TASKSTATS && taskstats_open() < 0) {
    fprintf(stderr, "floor: taskstats unusable (needs CAP_NET_ADMIN and the TASKSTATS family)\n");
    return 1;
  }
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long tasks = walk(root, threads);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    printf("%ld %lld\n", tasks, ns);
    fflush(stdout);
  }
  return 0;
}
