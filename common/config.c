/*
 * config: see config.h for the grammar and the contract.
 *
 * Every option has one slot in `vals`, indexed like the table, holding its
 * effective value both as normalized text and as the parsed number/bool, so
 * getters never parse and config_print() is a plain walk. A load copies the
 * slots, parses into the copy and swaps it in only when the whole input was
 * valid: a bad file never leaves a half-applied configuration behind.
 * Allocation failures are fatal: configuration is read at start-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"

#define ECHO_MAX	64	/* bytes of a bad value quoted in an error */

struct value {
	char	*text;		/* normalized; owned; never NULL */
	int64_t	 i;
	double	 f;
	bool	 b;
	bool	 set;		/* from a file or config_set(), not default */
};

struct config {
	const struct config_opt	*table;		/* borrowed */
	size_t			 nopts;
	struct value		*vals;		/* nopts slots */
	struct config_unknown	*unk;		/* strings: one block at .file */
	size_t			 nunk, capunk;
};

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (p == NULL)
		fatal("config: calloc");
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatal("config: strndup");
	return p;
}

static int
isblank_(int c)
{
	return c == ' ' || c == '\t';
}

static int
namechar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static int
valid_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!namechar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Trim blanks on both sides of [*s, *s + *n). */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && isblank_((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isblank_((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Position of the first byte that may not appear in a config line (NUL,
 * control characters but tab, DEL), or -1. */
static ssize_t
find_ctrl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return (ssize_t)i;
	}
	return -1;
}

static const char *
type_name(enum config_type t)
{
	switch (t) {
	case CONFIG_STR:	return "string";
	case CONFIG_INT:	return "integer";
	case CONFIG_BOOL:	return "boolean";
	case CONFIG_FLOAT:	return "number";
	case CONFIG_PATH:	return "absolute path";
	}
	return "?";
}

static int
in_choices(const char *choices, const char *v, size_t n)
{
	const char *p = choices;

	for (;;) {
		const char *bar = strchr(p, '|');
		size_t cl = bar ? (size_t)(bar - p) : strlen(p);

		if (cl == n && memcmp(p, v, n) == 0)
			return 1;
		if (bar == NULL)
			return 0;
		p = bar + 1;
	}
}

/* Shortest %g form that reads back as the same double. */
static void
fmt_float(double d, char *buf, size_t len)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static int
bounded(const struct config_opt *o)
{
	return o->min != 0 || o->max != 0;
}

/* [+-]?(digits[.digits*]|.digits)([eE][+-]?digits)? */
static int
float_syntax(const char *s)
{
	int digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	while (*s >= '0' && *s <= '9') {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/*
 * Parse the trimmed value [v, v + n) for `o` into *out (text owned by
 * *out on success). On failure writes the reason ("expected integer, got
 * 'x'") to why and returns -1; *out is untouched.
 */
static int
parse_value(const struct config_opt *o, const char *v, size_t n,
    struct value *out, char *why, size_t whylen)
{
	char echo[ECHO_MAX + 8], norm[64], *s, *end;
	struct value nv = { 0 };

	if (o->flags & CONFIG_SECRET)
		snprintf(echo, sizeof(echo), "***");
	else
		snprintf(echo, sizeof(echo), "%.*s%s",
		    (int)(n > ECHO_MAX ? ECHO_MAX : n), v,
		    n > ECHO_MAX ? "..." : "");
	if (n > CONFIG_VALUE_MAX) {
		snprintf(why, whylen, "value longer than %d bytes",
		    CONFIG_VALUE_MAX);
		return -1;
	}
	if (find_ctrl(v, n) != -1) {
		snprintf(why, whylen, "control character in value");
		return -1;
	}
	s = xstrndup(v, n);
	switch (o->type) {
	case CONFIG_STR:
		if (o->choices && !in_choices(o->choices, s, n)) {
			snprintf(why, whylen, "expected one of %s, got '%s'",
			    o->choices, echo);
			goto fail;
		}
		nv.text = s;
		break;
	case CONFIG_PATH:
		if (n > 0 && s[0] != '/') {
			snprintf(why, whylen,
			    "expected an absolute path, got '%s'", echo);
			goto fail;
		}
		nv.text = s;
		break;
	case CONFIG_INT: {
		const char *d = s + (s[0] == '+' || s[0] == '-');
		long long ll;

		if (*d == '\0' || strspn(d, "0123456789") != strlen(d)) {
			snprintf(why, whylen, "expected integer, got '%s'",
			    echo);
			goto fail;
		}
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == ERANGE || (bounded(o) &&
		    (ll < o->min || ll > o->max))) {
			if (bounded(o))
				snprintf(why, whylen, "%s is out of range "
				    "%" PRId64 "..%" PRId64, echo, o->min,
				    o->max);
			else
				snprintf(why, whylen, "%s is out of range",
				    echo);
			goto fail;
		}
		nv.i = ll;
		snprintf(norm, sizeof(norm), "%" PRId64, nv.i);
		nv.text = xstrndup(norm, strlen(norm));
		free(s);
		break;
	}
	case CONFIG_BOOL:
		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
		    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
			nv.b = true;
		else if (strcasecmp(s, "false") == 0 ||
		    strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0 ||
		    strcmp(s, "0") == 0)
			nv.b = false;
		else {
			snprintf(why, whylen, "expected boolean "
			    "(true/false, yes/no, on/off, 1/0), got '%s'",
			    echo);
			goto fail;
		}
		nv.text = xstrndup(nv.b ? "true" : "false", 5);
		free(s);
		break;
	case CONFIG_FLOAT:
		if (!float_syntax(s)) {
			snprintf(why, whylen, "expected number, got '%s'",
			    echo);
			goto fail;
		}
		nv.f = strtod(s, &end);
		if (!isfinite(nv.f)) {
			snprintf(why, whylen, "%s is out of range", echo);
			goto fail;
		}
		fmt_float(nv.f, norm, sizeof(norm));
		nv.text = xstrndup(norm, strlen(norm));
		free(s);
		break;
	default:
		snprintf(why, whylen, "option has no valid type");
		goto fail;
	}
	*out = nv;
	return 0;
fail:
	free(s);
	return -1;
}

static void
check_table(const struct config_opt *t, size_t n)
{
	char why[256];
	struct value v;

	for (size_t i = 0; i < n; i++) {
		const struct config_opt *o = &t[i];

		if (o->section == NULL ||
		    !valid_name(o->section, strlen(o->section)) ||
		    !valid_name(o->key, strlen(o->key)))
			fatalx("config table: bad name at entry %zu", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(t[j].section, o->section) == 0 &&
			    strcmp(t[j].key, o->key) == 0)
				fatalx("config table: [%s] %s listed twice",
				    o->section, o->key);
		if (o->type == CONFIG_INT && o->min > o->max)
			fatalx("config table: [%s] %s: min > max",
			    o->section, o->key);
		if (o->choices && (o->type != CONFIG_STR ||
		    o->choices[0] == '\0' || strstr(o->choices, "||") ||
		    o->choices[0] == '|' ||
		    o->choices[strlen(o->choices) - 1] == '|'))
			fatalx("config table: [%s] %s: bad choices",
			    o->section, o->key);
		if ((o->flags & CONFIG_SECRET) &&
		    (o->type != CONFIG_STR || o->choices))
			fatalx("config table: [%s] %s: only plain strings "
			    "can be secret", o->section, o->key);
		if (o->def == NULL || o->help == NULL)
			fatalx("config table: [%s] %s: no default or help",
			    o->section, o->key);
		if (parse_value(o, o->def, strlen(o->def), &v, why,
		    sizeof(why)) == -1)
			fatalx("config table: [%s] %s: default: %s",
			    o->section, o->key, why);
		free(v.text);
	}
}

struct config *
config_new(const struct config_opt *table)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	char why[256];

	cfg->table = table;
	while (table[cfg->nopts].key != NULL)
		cfg->nopts++;
	check_table(table, cfg->nopts);
	cfg->vals = xcalloc(cfg->nopts, sizeof(*cfg->vals));
	for (size_t i = 0; i < cfg->nopts; i++)
		if (parse_value(&table[i], table[i].def, strlen(table[i].def),
		    &cfg->vals[i], why, sizeof(why)) == -1)
			fatalx("config: default: %s", why);	/* checked */
	return cfg;
}

static void
free_vals(struct value *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

static void
free_unknown(struct config_unknown *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)u[i].file);
	free(u);
}

void
config_free(struct config **cfgp)
{
	struct config *cfg;

	if (cfgp == NULL || *cfgp == NULL)
		return;
	cfg = *cfgp;
	free_vals(cfg->vals, cfg->nopts);
	free_unknown(cfg->unk, cfg->nunk);
	free(cfg);
	*cfgp = NULL;
}

static ssize_t
find_opt(const struct config *cfg, const char *sec, size_t sl,
    const char *key, size_t kl)
{
	for (size_t i = 0; i < cfg->nopts; i++) {
		const struct config_opt *o = &cfg->table[i];

		if (strlen(o->section) == sl && strlen(o->key) == kl &&
		    memcmp(o->section, sec, sl) == 0 &&
		    memcmp(o->key, key, kl) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* Unknown options found during one load, appended to the config only when
 * the load succeeds. */
struct unklist {
	struct config_unknown	*v;
	size_t			 n, cap;
};

static void
unk_add(struct unklist *l, const char *file, int line, const char *sec,
    size_t sl, const char *key, size_t kl)
{
	size_t fl = strlen(file);
	char *blk;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		struct config_unknown *nv = reallocarray(l->v, ncap,
		    sizeof(*nv));
		if (nv == NULL)
			fatal("config: reallocarray");
		l->v = nv;
		l->cap = ncap;
	}
	blk = xcalloc(1, fl + sl + kl + 3);
	memcpy(blk, file, fl);
	memcpy(blk + fl + 1, sec, sl);
	memcpy(blk + fl + 1 + sl + 1, key, kl);
	l->v[l->n++] = (struct config_unknown){
		.file = blk, .line = line,
		.section = blk + fl + 1, .key = blk + fl + 1 + sl + 1,
	};
}

static struct value *
copy_vals(const struct config *cfg)
{
	struct value *v = xcalloc(cfg->nopts, sizeof(*v));

	for (size_t i = 0; i < cfg->nopts; i++) {
		v[i] = cfg->vals[i];
		v[i].text = xstrndup(cfg->vals[i].text,
		    strlen(cfg->vals[i].text));
	}
	return v;
}

int
config_load_buf(struct config *cfg, const char *buf, size_t len,
    const char *name)
{
	const char *p = buf, *end = buf + len;
	const char *sec = NULL;
	size_t sl = 0;
	struct value *nv = NULL;
	struct unklist ul = { 0 };
	int *seen = NULL, lineno = 0;
	char why[256];

	if (len > CONFIG_FILE_MAX) {
		err_set(TS_ECONFIG, "%s: larger than %d bytes", name,
		    CONFIG_FILE_MAX);
		return -1;
	}
	nv = copy_vals(cfg);
	seen = xcalloc(cfg->nopts, sizeof(*seen));
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *next = nl ? nl + 1 : end;
		const char *eq, *k, *v;
		size_t n, kl, vl;
		ssize_t bad, i;
		struct value val;

		lineno++;
		if (le > p && le[-1] == '\r')
			le--;
		n = (size_t)(le - p);
		if (n > CONFIG_LINE_MAX) {
			err_set(TS_ECONFIG, "%s:%d: line longer than %d bytes",
			    name, lineno, CONFIG_LINE_MAX);
			goto fail;
		}
		if ((bad = find_ctrl(p, n)) != -1) {
			if (p[bad] == '\0')
				err_set(TS_ECONFIG, "%s:%d: NUL byte", name,
				    lineno);
			else
				err_set(TS_ECONFIG, "%s:%d: control character "
				    "0x%02x", name, lineno,
				    (unsigned char)p[bad]);
			goto fail;
		}
		trim(&p, &n);
		if (n == 0 || p[0] == '#' || p[0] == ';')
			goto next;
		if (p[0] == '[') {
			if (n < 2 || p[n - 1] != ']') {
				err_set(TS_ECONFIG, "%s:%d: malformed section "
				    "header", name, lineno);
				goto fail;
			}
			sec = p + 1;
			sl = n - 2;
			trim(&sec, &sl);
			if (!valid_name(sec, sl)) {
				err_set(TS_ECONFIG, "%s:%d: invalid section "
				    "name '%.*s'", name, lineno,
				    (int)(sl > ECHO_MAX ? ECHO_MAX : sl), sec);
				goto fail;
			}
			goto next;
		}
		if ((eq = memchr(p, '=', n)) == NULL) {
			err_set(TS_ECONFIG, "%s:%d: expected '[section]', "
			    "'key = value' or a comment", name, lineno);
			goto fail;
		}
		k = p;
		kl = (size_t)(eq - p);
		trim(&k, &kl);
		v = eq + 1;
		vl = (size_t)(p + n - v);
		trim(&v, &vl);
		if (!valid_name(k, kl)) {
			err_set(TS_ECONFIG, "%s:%d: invalid option name '%.*s'",
			    name, lineno,
			    (int)(kl > ECHO_MAX ? ECHO_MAX : kl), k);
			goto fail;
		}
		if (sec == NULL) {
			err_set(TS_ECONFIG, "%s:%d: option '%.*s' before any "
			    "[section] header", name, lineno,
			    (int)(kl > ECHO_MAX ? ECHO_MAX : kl), k);
			goto fail;
		}
		if ((i = find_opt(cfg, sec, sl, k, kl)) == -1) {
			log_warnx("%s:%d: unknown option [%.*s] %.*s", name,
			    lineno, (int)sl, sec, (int)kl, k);
			unk_add(&ul, name, lineno, sec, sl, k, kl);
			goto next;
		}
		if (seen[i])
			log_warnx("%s:%d: [%s] %s given again (first at line "
			    "%d); the last value wins", name, lineno,
			    cfg->table[i].section, cfg->table[i].key, seen[i]);
		if (parse_value(&cfg->table[i], v, vl, &val, why,
		    sizeof(why)) == -1) {
			err_set(TS_ECONFIG, "%s:%d: [%s] %s: %s", name, lineno,
			    cfg->table[i].section, cfg->table[i].key, why);
			goto fail;
		}
		val.set = true;
		free(nv[i].text);
		nv[i] = val;
		seen[i] = lineno;
next:
		p = next;
	}

	free(seen);
	free_vals(cfg->vals, cfg->nopts);
	cfg->vals = nv;
	if (ul.n > 0) {
		size_t need = cfg->nunk + ul.n;
		if (need > cfg->capunk) {
			struct config_unknown *u = reallocarray(cfg->unk, need,
			    sizeof(*u));
			if (u == NULL)
				fatal("config: reallocarray");
			cfg->unk = u;
			cfg->capunk = need;
		}
		memcpy(cfg->unk + cfg->nunk, ul.v, ul.n * sizeof(*ul.v));
		cfg->nunk = need;
	}
	free(ul.v);
	return 0;
fail:
	free(seen);
	free_vals(nv, cfg->nopts);
	free_unknown(ul.v, ul.n);
	return -1;
}

int
config_load_file(struct config *cfg, const char *path)
{
	size_t len = 0, cap = 8192;
	char *buf;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_set_errno(errno == ENOENT ? TS_ENOT_FOUND : TS_ECONFIG,
		    "%s", path);
		return -1;
	}
	buf = xcalloc(1, cap);
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *nb;

			if (cap > CONFIG_FILE_MAX) {
				err_set(TS_ECONFIG, "%s: larger than %d bytes",
				    path, CONFIG_FILE_MAX);
				goto fail;
			}
			/* Grow to at most one byte past the limit: enough
			 * to tell "too big" without reading it all. */
			cap = cap * 2 > CONFIG_FILE_MAX ? CONFIG_FILE_MAX + 1 :
			    cap * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				fatal("config: realloc");
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			err_set_errno(TS_ECONFIG, "%s", path);
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	rc = config_load_buf(cfg, buf, len, path);
	free(buf);
	return rc;
fail:
	close(fd);
	free(buf);
	return -1;
}

int
config_set(struct config *cfg, const char *section, const char *key,
    const char *value)
{
	const char *v = value;
	size_t vl = strlen(value);
	struct value val;
	char why[256];
	ssize_t i;

	i = find_opt(cfg, section, strlen(section), key, strlen(key));
	if (i == -1) {
		err_set(TS_ECONFIG, "unknown option [%.*s] %.*s", ECHO_MAX,
		    section, ECHO_MAX, key);
		return -1;
	}
	trim(&v, &vl);
	/* What config_print() writes must fit on a line it can read back. */
	if (strlen(key) + 1 + vl > CONFIG_LINE_MAX) {
		err_set(TS_ECONFIG, "[%s] %s: value too long", section, key);
		return -1;
	}
	if (parse_value(&cfg->table[i], v, vl, &val, why, sizeof(why)) == -1) {
		err_set(TS_ECONFIG, "[%s] %s: %s", section, key, why);
		return -1;
	}
	val.set = true;
	free(cfg->vals[i].text);
	cfg->vals[i] = val;
	return 0;
}

static const struct value *
get(const struct config *cfg, const char *section, const char *key,
    enum config_type want)
{
	ssize_t i = find_opt(cfg, section, strlen(section), key, strlen(key));
	enum config_type t;

	if (i == -1)
		fatalx("config: [%s] %s is not in the option table", section,
		    key);
	t = cfg->table[i].type;
	if (t != want && !(want == CONFIG_STR && t == CONFIG_PATH))
		fatalx("config: [%s] %s has type %s, read as %s", section, key,
		    type_name(t), type_name(want));
	return &cfg->vals[i];
}

const char *
config_get_str(const struct config *cfg, const char *section,
    const char *key)
{
	return get(cfg, section, key, CONFIG_STR)->text;
}

int64_t
config_get_int(const struct config *cfg, const char *section,
    const char *key)
{
	return get(cfg, section, key, CONFIG_INT)->i;
}

bool
config_get_bool(const struct config *cfg, const char *section,
    const char *key)
{
	return get(cfg, section, key, CONFIG_BOOL)->b;
}

double
config_get_float(const struct config *cfg, const char *section,
    const char *key)
{
	return get(cfg, section, key, CONFIG_FLOAT)->f;
}

bool
config_is_set(const struct config *cfg, const char *section, const char *key)
{
	ssize_t i = find_opt(cfg, section, strlen(section), key, strlen(key));

	if (i == -1)
		fatalx("config: [%s] %s is not in the option table", section,
		    key);
	return cfg->vals[i].set;
}

size_t
config_unknown_count(const struct config *cfg)
{
	return cfg->nunk;
}

const struct config_unknown *
config_unknown_at(const struct config *cfg, size_t i)
{
	return i < cfg->nunk ? &cfg->unk[i] : NULL;
}

/* Is entry i the first of its section in the table? */
static int
first_of_section(const struct config_opt *t, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(t[j].section, t[i].section) == 0)
			return 0;
	return 1;
}

static int
print_kv(FILE *fp, const char *prefix, const char *key, const char *val)
{
	if (*val == '\0')
		return fprintf(fp, "%s%s =\n", prefix, key);
	/* "key = value" unless the blanks would push the line past the
	 * limit a file line may have (a long value read from "k=v"). */
	if (strlen(prefix) + strlen(key) + 3 + strlen(val) > CONFIG_LINE_MAX)
		return fprintf(fp, "%s%s=%s\n", prefix, key, val);
	return fprintf(fp, "%s%s = %s\n", prefix, key, val);
}

int
config_print(const struct config *cfg, FILE *fp)
{
	const struct config_opt *t = cfg->table;
	int first = 1;

	for (size_t i = 0; i < cfg->nopts; i++) {
		if (!first_of_section(t, i))
			continue;
		fprintf(fp, "%s[%s]\n", first ? "" : "\n", t[i].section);
		first = 0;
		for (size_t j = i; j < cfg->nopts; j++) {
			const char *v = cfg->vals[j].text;

			if (strcmp(t[j].section, t[i].section) != 0)
				continue;
			if ((t[j].flags & CONFIG_SECRET) && *v != '\0')
				v = "***";
			print_kv(fp, "", t[j].key, v);
		}
	}
	if (fflush(fp) == EOF || ferror(fp)) {
		err_set_errno(TS_EIO, "config: write");
		return -1;
	}
	return 0;
}

/* Write text as "# " comment lines of at most `width` columns, breaking
 * at spaces. */
static void
print_wrapped(FILE *fp, const char *text, size_t width)
{
	const char *p = text;
	size_t col = 0;

	while (*p) {
		size_t wl;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		wl = strcspn(p, " ");
		if (col > 0 && col + 1 + wl > width) {
			fputc('\n', fp);
			col = 0;
		}
		if (col == 0) {
			fputs("#", fp);
			col = 1;
		}
		fprintf(fp, " %.*s", (int)wl, p);
		col += 1 + wl;
		p += wl;
	}
	if (col > 0)
		fputc('\n', fp);
}

static void
print_type(FILE *fp, const struct config_opt *o)
{
	fprintf(fp, "# Type: %s", type_name(o->type));
	if (o->type == CONFIG_INT && bounded(o))
		fprintf(fp, ", %" PRId64 "..%" PRId64, o->min, o->max);
	if (o->choices) {
		fputs(", one of: ", fp);
		for (const char *c = o->choices; *c; c++) {
			if (*c == '|')
				fputs(", ", fp);
			else
				fputc(*c, fp);
		}
	}
	if (o->flags & CONFIG_SECRET)
		fputs(", secret", fp);
	fputc('\n', fp);
}

int
config_print_sample(const struct config_opt *t, const char *title, FILE *fp)
{
	char line[512];

	snprintf(line, sizeof(line), "%s configuration sample.", title);
	print_wrapped(fp, line, 78);
	fputs("#\n", fp);
	print_wrapped(fp, "Every option is listed, commented out, with its "
	    "default value; uncomment and edit the ones to change. This file "
	    "is generated from the option table: do not edit it by hand.",
	    78);
	for (size_t i = 0; t[i].key != NULL; i++) {
		if (!first_of_section(t, i))
			continue;
		fprintf(fp, "\n[%s]\n", t[i].section);
		for (size_t j = i; t[j].key != NULL; j++) {
			if (strcmp(t[j].section, t[i].section) != 0)
				continue;
			fputc('\n', fp);
			print_wrapped(fp, t[j].help, 78);
			print_type(fp, &t[j]);
			print_kv(fp, "#", t[j].key, t[j].def);
		}
	}
	if (fflush(fp) == EOF || ferror(fp)) {
		err_set_errno(TS_EIO, "config: write");
		return -1;
	}
	return 0;
}
