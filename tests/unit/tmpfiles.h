/* tmpfiles: the temporary directory of a cmocka test group and the files its tests write into
 * it, all removed when the group ends. Include after <cmocka.h>. */
#ifndef SV_TEST_TMPFILES_H
#define SV_TEST_TMPFILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TMP_MAX_FILES = 256 };

static char dir[256];
static char tmp_files[TMP_MAX_FILES][512];
static int tmp_n;

/* Makes $TMPDIR/<prefix>_XXXXXX (or under /tmp). 0 or -1, as a group setup returns. */
static inline int tmp_setup(const char *prefix)
{
    snprintf(dir, sizeof dir, "%s/%s_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes every file written and the directory. */
static inline int tmp_teardown(void)
{
    for (int i = 0; i < tmp_n; i++)
        unlink(tmp_files[i]);
    return rmdir(dir);
}

/* Writes len bytes to dir/name; returns the path (valid for the whole run). */
static inline const char *tmp_write(const char *name, const void *data, size_t len)
{
    assert_true(tmp_n < TMP_MAX_FILES);
    char *p = tmp_files[tmp_n++];
    snprintf(p, sizeof tmp_files[0], "%s/%.240s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return p;
}

#endif
