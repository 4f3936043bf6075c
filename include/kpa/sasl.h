/* SASL PLAIN users from a mounted Secret (one file per user: name = user, content = password)
 * and the JAAS strings the Kafka broker and its clients read them from. */
#ifndef KPA_SASL_H
#define KPA_SASL_H

#include <stddef.h>

#define SASL_MAX_USERS 1000
#define SASL_NAME_MAX 255
#define SASL_PASSWORD_MAX 1024

struct sasl_user {
        char *name;
        char *password;
};

struct sasl_users {
        struct sasl_user *v;   /* sorted by name (byte order) */
        size_t n;
};

/* Reads every user file in dir: entries whose name starts with '.' are skipped (the
 * ..data / ..<timestamp> entries of a Secret volume, dotfiles); symlinks are followed as long
 * as they stay inside dir, and must end at a regular file. One trailing newline of a password
 * is removed. Names: 1 to SASL_NAME_MAX characters from A-Z a-z 0-9 . _ -. Passwords: 1 to
 * SASL_PASSWORD_MAX bytes of UTF-8 without NUL, CR or LF. 0, or -EINVAL (a bad entry, an
 * unreadable or empty folder) / -E2BIG (more than SASL_MAX_USERS) with one line in errbuf
 * that names the file but never holds a password. *ret is written only on success. */
int sasl_users_load(const char *dir, struct sasl_users *ret, char *errbuf, size_t errlen);

/* The user of that name, or NULL. */
const struct sasl_user *sasl_users_find(const struct sasl_users *u, const char *name);

/* Broker side: PlainLoginModule with username/password of the user named self (the
 * inter-broker credentials; self NULL: none) and user_<name>="<password>" for every user.
 * -EINVAL if self is not among the users or a value cannot be written. The caller frees
 * *ret_jaas with secret_free. */
int sasl_jaas_plain_server(const struct sasl_users *u, const char *self, char **ret_jaas, char *errbuf,
                           size_t errlen);

/* Client side (inter-broker, admin tools): PlainLoginModule with username/password only. */
int sasl_jaas_plain_client(const struct sasl_user *user, char **ret_jaas, char *errbuf, size_t errlen);

/* Overwrites every password with zero bytes, in place. */
void sasl_users_wipe(struct sasl_users *u);
/* Wipes the passwords, frees everything and empties *u. Accepts NULL. */
void sasl_users_free(struct sasl_users *u);

#endif
