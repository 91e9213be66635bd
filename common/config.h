/*
 * config: ini files (nova.conf style) checked against an option table.
 *
 * Grammar, one construct per line:
 *   [section]          DEFAULT or a named section; may be reopened later
 *   key = value        surrounding blanks trimmed; the value is everything
 *                      after the first '=', "" allowed; no quoting, no inline
 *                      comments ("a = b # c" sets a to "b # c")
 *   # text, ; text     whole-line comments; blank lines are ignored
 * Lines end in LF or CRLF; a leading UTF-8 BOM is skipped. A NUL byte or any
 * other control character except tab is rejected, so nothing read from a
 * file can inject a line into the normalized output or a log line.
 * Section and key names are [A-Za-z0-9_.-]+ and case-sensitive.
 *
 * Limits: CONFIG_FILE_MAX bytes per file, CONFIG_LINE_MAX bytes per line
 * (terminator excluded), CONFIG_VALUE_MAX bytes per value.
 *
 * The caller owns the option table (static, terminated by an entry whose key
 * is NULL) and it must outlive the config. The table is the single source of
 * truth: types, defaults, ranges, choices, help text, normalized output and
 * the shipped sample files all come from it.
 *
 * Semantics:
 *  - An option not in the table is a warning (log_warnx "file:line: unknown
 *    option [sec] key") and is remembered (config_unknown_*), not an error,
 *    so an old binary keeps starting with a newer file.
 *  - A value of the wrong type or out of range fails the whole load with
 *    TS_ECONFIG and "file:line: [section] key: ...". A load parses into a
 *    copy, so a failed load leaves the config exactly as it was before.
 *  - A key given twice in one load: the last one wins, with a warning.
 *    Later loads (several files) and config_set() override silently.
 *  - Asking a getter for an option that is not in the table, or with the
 *    wrong type, is a programmer error: fatalx().
 *
 * A loaded config is read-only to the getters, so any number of threads may
 * read it concurrently as long as nobody loads or sets at the same time.
 */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_FILE_MAX		(1024 * 1024)
#define CONFIG_LINE_MAX		4096
#define CONFIG_VALUE_MAX	4095

enum config_type {
	CONFIG_STR = 1,	/* any text; with choices, one of them */
	CONFIG_INT,	/* int64, decimal, optional sign, within [min, max] */
	CONFIG_BOOL,	/* true/false yes/no on/off 1/0, any case */
	CONFIG_FLOAT,	/* decimal, finite (no nan/inf/hex) */
	CONFIG_PATH,	/* "" (unset) or an absolute path */
};

/* Flags. */
#define CONFIG_SECRET	0x1	/* printed as "***"; never echoed in errors.
				 * Only for CONFIG_STR without choices. */

struct config_opt {
	const char	*section;	/* "DEFAULT" or a section name */
	const char	*key;		/* NULL terminates the table */
	enum config_type type;
	const char	*def;		/* default, as text; must validate */
	const char	*help;		/* one sentence or a few; wrapped */
	int64_t		 min, max;	/* CONFIG_INT; min == max == 0: any */
	const char	*choices;	/* CONFIG_STR: "a|b|c", or NULL */
	unsigned	 flags;		/* CONFIG_SECRET */
};

/* Table-building helpers, so a table reads as one line per option. */
#define CONFIG_OPT_STR(s, k, d, h) \
	{ .section = (s), .key = (k), .type = CONFIG_STR, .def = (d), .help = (h) }
#define CONFIG_OPT_SECRET(s, k, d, h) \
	{ .section = (s), .key = (k), .type = CONFIG_STR, .def = (d), \
	  .help = (h), .flags = CONFIG_SECRET }
#define CONFIG_OPT_ENUM(s, k, d, c, h) \
	{ .section = (s), .key = (k), .type = CONFIG_STR, .def = (d), \
	  .help = (h), .choices = (c) }
#define CONFIG_OPT_INT(s, k, d, lo, hi, h) \
	{ .section = (s), .key = (k), .type = CONFIG_INT, .def = (d), \
	  .help = (h), .min = (lo), .max = (hi) }
#define CONFIG_OPT_BOOL(s, k, d, h) \
	{ .section = (s), .key = (k), .type = CONFIG_BOOL, .def = (d), .help = (h) }
#define CONFIG_OPT_FLOAT(s, k, d, h) \
	{ .section = (s), .key = (k), .type = CONFIG_FLOAT, .def = (d), .help = (h) }
#define CONFIG_OPT_PATH(s, k, d, h) \
	{ .section = (s), .key = (k), .type = CONFIG_PATH, .def = (d), .help = (h) }
#define CONFIG_OPT_END	{ .key = NULL }

struct config;

/* An option met in a file but absent from the table. Strings are owned by
 * the config and valid until config_free(). */
struct config_unknown {
	const char	*file;
	int		 line;
	const char	*section;
	const char	*key;
};

/*
 * A config holding the table's defaults. The table is borrowed and must
 * outlive the config. An invalid table (a default that does not validate,
 * a duplicate option, a bad name, a secret that is not a plain string) is a
 * programmer error: fatalx(). Never returns NULL (fatalx on OOM too).
 */
struct config	*config_new(const struct config_opt *table);
/* Accepts NULL; clears *cfgp. */
void		 config_free(struct config **cfgp);

/*
 * Parse a file (or a buffer, `name` being used in messages) on top of the
 * current values. Returns 0, or -1 with the error recorded (TS_ECONFIG;
 * TS_ENOT_FOUND when the file does not exist) and the config unchanged.
 */
int	config_load_file(struct config *, const char *path);
int	config_load_buf(struct config *, const char *buf, size_t len,
	    const char *name);

/*
 * Override one option (command line). Validated like a file value
 * (blanks trimmed); an option not in the table is an error here.
 * Returns 0, or -1 (TS_ECONFIG) with the config unchanged.
 */
int	config_set(struct config *, const char *section, const char *key,
	    const char *value);

/*
 * Effective values, defaults included. Strings (STR and PATH options) are
 * borrowed: valid until the next load/set on this config or config_free().
 * INT/BOOL/FLOAT options are read with their own getter. An option not in
 * the table or read with the wrong getter: fatalx().
 */
const char	*config_get_str(const struct config *, const char *section,
		    const char *key);
int64_t		 config_get_int(const struct config *, const char *section,
		    const char *key);
bool		 config_get_bool(const struct config *, const char *section,
		    const char *key);
double		 config_get_float(const struct config *, const char *section,
		    const char *key);
/* Was the option given by a file or config_set() (rather than defaulted)? */
bool		 config_is_set(const struct config *, const char *section,
		    const char *key);

/* Options met in files but not in the table, in the order met, across all
 * successful loads. config_unknown_at() returns NULL past the end; the
 * entry is borrowed until config_free(). */
size_t				 config_unknown_count(const struct config *);
const struct config_unknown	*config_unknown_at(const struct config *,
				    size_t);

/*
 * The normalized configuration (what `-n` prints): every section in table
 * order, each headed "[section]" and separated by a blank line, then every
 * option in table order as "key = value" with its effective value (defaults
 * included, booleans as true/false, numbers in canonical form, secrets as
 * "***"). No comments. Parsing the output again gives the same effective
 * values (except secrets) and the same output. Returns 0, or -1 (TS_EIO)
 * if the stream reports an error.
 */
int	config_print(const struct config *, FILE *);

/*
 * A commented sample file in the style of nova.conf.sample: a header naming
 * `title`, then every section and every option with its help text, type,
 * range or choices, and "#key = default" commented out. The packaged
 * samples are this output, checked by the unit tests. Returns 0 or -1
 * (TS_EIO).
 */
int	config_print_sample(const struct config_opt *table, const char *title,
	    FILE *);

#endif
