/*
 * policy: parse oslo.policy check strings once into a flat AST, enforce
 * without allocating. See policy.h for the language and limits.
 *
 * Representation: every rule's terms live in one node array, referenced by
 * index; strings (role names, literals, target keys) live in one pool,
 * referenced by offset; rules are sorted by name for binary search. `and`
 * and `or` chains are built leaning right so that evaluation loops along
 * the chain instead of recursing, and rule:X is a jump to X's root. The
 * evaluator therefore recurses only into a left operand or a `not`, and
 * load computes that depth per rule and rejects what exceeds the bound.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "policy.h"

enum ntype {
	N_TRUE = 1,
	N_FALSE,
	N_AND,		/* a and b; b continues the chain */
	N_OR,		/* a or b; b continues the chain */
	N_NOT,		/* not a */
	N_ROLE,		/* a: pool offset of the role name */
	N_RULE,		/* a: rule index */
	N_CRED,		/* attr vs a (literal, or target key if from_target) */
};

enum cattr {
	C_USER_ID,
	C_USER_DOMAIN_ID,
	C_PROJECT_ID,
	C_PROJECT_DOMAIN_ID,
	C_DOMAIN_ID,
	C_SYSTEM_SCOPE,
	C_IS_ADMIN,	/* b: the literal's truth value */
};

static const struct {
	const char	*name;
	enum cattr	 attr;
} cattrs[] = {
	{ "user_id",			C_USER_ID },
	{ "user_domain_id",		C_USER_DOMAIN_ID },
	{ "project_id",			C_PROJECT_ID },
	{ "project_domain_id",		C_PROJECT_DOMAIN_ID },
	{ "domain_id",			C_DOMAIN_ID },
	{ "system_scope",		C_SYSTEM_SCOPE },
	{ "is_admin",			C_IS_ADMIN },
	{ "token.user.domain.id",	C_USER_DOMAIN_ID },
	{ "token.project.id",		C_PROJECT_ID },
	{ "token.project.domain.id",	C_PROJECT_DOMAIN_ID },
	{ "token.domain.id",		C_DOMAIN_ID },
};

struct pnode {
	uint8_t		type;
	uint8_t		attr;
	uint8_t		from_target;
	uint32_t	a;
	uint32_t	b;
};

enum { R_NEW = 0, R_ACTIVE, R_DONE };

struct prule {
	uint32_t	name;		/* pool offset */
	uint32_t	root;		/* node index */
	uint8_t		state;		/* load-time walk */
	uint8_t		from_json;	/* for messages */
	int		depth;		/* evaluation depth, once R_DONE */
};

struct policy {
	struct pnode	*nodes;
	size_t		 nnodes, capnodes;
	char		*pool;
	size_t		 npool, cappool;
	struct prule	*rules;
	size_t		 nrules;
};

/* ---- building blocks ---------------------------------------------------- */

static int
grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *nb;

	if (need <= *cap)
		return 0;
	for (ncap = *cap ? *cap : 64; ncap < need; ncap *= 2)
		;
	if ((nb = reallocarray(*buf, ncap, elem)) == NULL) {
		err_set(TS_ENOMEM, "policy: out of memory");
		return -1;
	}
	*buf = nb;
	*cap = ncap;
	return 0;
}

static long
pool_add(struct policy *p, const char *s, size_t n)
{
	size_t off = p->npool;

	if (grow((void **)&p->pool, &p->cappool, p->npool + n + 1, 1) == -1)
		return -1;
	memcpy(p->pool + off, s, n);
	p->pool[off + n] = '\0';
	p->npool += n + 1;
	return (long)off;
}

/* Rule index by name, or -1. */
static long
find_rule(const struct policy *p, const char *name, size_t len)
{
	size_t lo = 0, hi = p->nrules, mid;
	const char *rn;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		rn = p->pool + p->rules[mid].name;
		c = strncmp(name, rn, len);
		if (c == 0 && rn[len] != '\0')
			c = -1;		/* name is a proper prefix of rn */
		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* ---- parser ------------------------------------------------------------- */

enum tok { T_END, T_LPAREN, T_RPAREN, T_AND, T_OR, T_NOT, T_CHECK };

struct parser {
	struct policy	*p;
	const char	*origin;
	const char	*rule;
	const char	*s;
	size_t		 len;
	size_t		 pos;
	size_t		 first_node;	/* for the per-rule term limit */
	enum tok	 tok;		/* lookahead */
	size_t		 tstart, tlen;
};

static void perr(struct parser *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
perr(struct parser *ps, size_t col, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err_set(TS_ECONFIG, "policy %s: rule \"%.*s\": %s at column %zu",
	    ps->origin, POLICY_MAX_NAME, ps->rule, what, col + 1);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static int
word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/* Read the next token into the lookahead. Words end at whitespace or an
 * unbalanced parenthesis; "%(" opens a substitution that ")" closes. */
static int
lex(struct parser *ps)
{
	const char *s = ps->s;
	size_t start;
	int in_subst = 0;

	while (ps->pos < ps->len && is_space(s[ps->pos]))
		ps->pos++;
	ps->tstart = ps->pos;
	ps->tlen = 1;
	if (ps->pos == ps->len) {
		ps->tok = T_END;
		ps->tlen = 0;
		return 0;
	}
	if (s[ps->pos] == '(' || s[ps->pos] == ')') {
		ps->tok = s[ps->pos] == '(' ? T_LPAREN : T_RPAREN;
		ps->pos++;
		return 0;
	}
	start = ps->pos;
	while (ps->pos < ps->len) {
		char c = s[ps->pos];

		if (is_space(c))
			break;
		if (in_subst) {
			if (c == ')')
				in_subst = 0;
		} else if (c == '(') {
			if (ps->pos == start || s[ps->pos - 1] != '%')
				break;
			in_subst = 1;
		} else if (c == ')') {
			break;
		}
		ps->pos++;
	}
	if (in_subst) {
		perr(ps, start, "unterminated %%(...)s");
		return -1;
	}
	ps->tlen = ps->pos - start;
	if (word_is(s + start, ps->tlen, "and"))
		ps->tok = T_AND;
	else if (word_is(s + start, ps->tlen, "or"))
		ps->tok = T_OR;
	else if (word_is(s + start, ps->tlen, "not"))
		ps->tok = T_NOT;
	else
		ps->tok = T_CHECK;
	return 0;
}

static long
new_node(struct parser *ps, enum ntype type, uint32_t a, uint32_t b)
{
	struct policy *p = ps->p;
	struct pnode *n;

	if (p->nnodes - ps->first_node >= POLICY_MAX_NODES) {
		perr(ps, ps->tstart, "more than %d terms", POLICY_MAX_NODES);
		return -1;
	}
	if (grow((void **)&p->nodes, &p->capnodes, p->nnodes + 1,
	    sizeof(*p->nodes)) == -1)
		return -1;
	n = &p->nodes[p->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = (uint8_t)type;
	n->a = a;
	n->b = b;
	return (long)p->nnodes++;
}

static long
parse_check(struct parser *ps)
{
	const char *w = ps->s + ps->tstart, *colon, *kind, *m;
	size_t wl = ps->tlen, kl, ml, i, col = ps->tstart;
	long off, r, n;

	if (wl == 1 && w[0] == '@')
		return new_node(ps, N_TRUE, 0, 0);
	if (wl == 1 && w[0] == '!')
		return new_node(ps, N_FALSE, 0, 0);
	if ((colon = memchr(w, ':', wl)) == NULL) {
		perr(ps, col, "expected a check such as role:admin, not "
		    "\"%.*s\"", (int)(wl > 40 ? 40 : wl), w);
		return -1;
	}
	kind = w;
	kl = (size_t)(colon - w);
	m = colon + 1;
	ml = wl - kl - 1;
	if (kl == 0 || ml == 0) {
		perr(ps, col, "a check needs text on both sides of ':'");
		return -1;
	}
	if (word_is(kind, kl, "rule")) {
		if ((r = find_rule(ps->p, m, ml)) < 0) {
			perr(ps, col + kl + 1, "reference to unknown rule "
			    "\"%.*s\"", (int)(ml > 80 ? 80 : ml), m);
			return -1;
		}
		return new_node(ps, N_RULE, (uint32_t)r, 0);
	}
	if (word_is(kind, kl, "role")) {
		if (memchr(m, '%', ml) != NULL) {
			perr(ps, col + kl + 1, "role checks take a literal "
			    "role name");
			return -1;
		}
		if ((off = pool_add(ps->p, m, ml)) < 0)
			return -1;
		return new_node(ps, N_ROLE, (uint32_t)off, 0);
	}
	if (word_is(kind, kl, "http") || word_is(kind, kl, "https")) {
		perr(ps, col, "http checks are not supported");
		return -1;
	}
	for (i = 0; i < sizeof(cattrs) / sizeof(cattrs[0]); i++)
		if (strlen(cattrs[i].name) == kl &&
		    memcmp(cattrs[i].name, kind, kl) == 0)
			break;
	if (i == sizeof(cattrs) / sizeof(cattrs[0])) {
		perr(ps, col, "unknown credential attribute \"%.*s\"",
		    (int)(kl > 40 ? 40 : kl), kind);
		return -1;
	}
	if (cattrs[i].attr == C_IS_ADMIN) {
		uint32_t truth;

		if (word_is(m, ml, "true") || word_is(m, ml, "1"))
			truth = 1;
		else if (word_is(m, ml, "false") || word_is(m, ml, "0"))
			truth = 0;
		else {
			perr(ps, col + kl + 1, "is_admin takes True or False");
			return -1;
		}
		if ((n = new_node(ps, N_CRED, 0, truth)) < 0)
			return -1;
		ps->p->nodes[n].attr = C_IS_ADMIN;
		return n;
	}
	if (ml >= 4 && m[0] == '%' && m[1] == '(' && m[ml - 2] == ')' &&
	    m[ml - 1] == 's') {
		/* A whole "%(key)s": compare with the target's value. */
		if (ml == 4 || memchr(m + 2, '%', ml - 4) != NULL ||
		    memchr(m + 2, '(', ml - 4) != NULL ||
		    memchr(m + 2, ')', ml - 4) != NULL) {
			perr(ps, col + kl + 1, "bad substitution key");
			return -1;
		}
		if ((off = pool_add(ps->p, m + 2, ml - 4)) < 0 ||
		    (n = new_node(ps, N_CRED, (uint32_t)off, 0)) < 0)
			return -1;
		ps->p->nodes[n].from_target = 1;
	} else {
		if (memchr(m, '%', ml) != NULL) {
			perr(ps, col + kl + 1, "only a whole %%(key)s can be "
			    "substituted");
			return -1;
		}
		if ((off = pool_add(ps->p, m, ml)) < 0 ||
		    (n = new_node(ps, N_CRED, (uint32_t)off, 0)) < 0)
			return -1;
	}
	ps->p->nodes[n].attr = (uint8_t)cattrs[i].attr;
	return n;
}

static long parse_or(struct parser *, int);

static long
parse_not(struct parser *ps, int depth)
{
	long c;

	if (ps->tok == T_NOT) {
		if (depth + 1 > POLICY_MAX_DEPTH) {
			perr(ps, ps->tstart, "nested deeper than %d",
			    POLICY_MAX_DEPTH);
			return -1;
		}
		if (lex(ps) == -1 || (c = parse_not(ps, depth + 1)) < 0)
			return -1;
		return new_node(ps, N_NOT, (uint32_t)c, 0);
	}
	if (ps->tok == T_LPAREN) {
		size_t open = ps->tstart;

		if (depth + 1 > POLICY_MAX_DEPTH) {
			perr(ps, ps->tstart, "nested deeper than %d",
			    POLICY_MAX_DEPTH);
			return -1;
		}
		if (lex(ps) == -1 || (c = parse_or(ps, depth + 1)) < 0)
			return -1;
		if (ps->tok != T_RPAREN) {
			perr(ps, ps->tstart, "expected ')' matching the '(' "
			    "of column %zu", open + 1);
			return -1;
		}
		if (lex(ps) == -1)
			return -1;
		return c;
	}
	if (ps->tok == T_CHECK) {
		if ((c = parse_check(ps)) < 0 || lex(ps) == -1)
			return -1;
		return c;
	}
	if (ps->tok == T_END)
		perr(ps, ps->tstart, "unexpected end of rule");
	else
		perr(ps, ps->tstart, "expected a check, 'not' or '('");
	return -1;
}

/* One precedence level: operands joined by op, built as a right-leaning
 * chain (x op (y op z)) so evaluation iterates along it. */
static long
parse_chain(struct parser *ps, int depth, enum tok op, enum ntype type)
{
	long first, cur, x, n;

	if ((first = op == T_OR ? parse_chain(ps, depth, T_AND, N_AND) :
	    parse_not(ps, depth)) < 0)
		return -1;
	if (ps->tok != op)
		return first;
	if ((cur = new_node(ps, type, (uint32_t)first, 0)) < 0)
		return -1;
	n = cur;
	for (;;) {
		if (lex(ps) == -1)
			return -1;
		if ((x = op == T_OR ? parse_chain(ps, depth, T_AND, N_AND) :
		    parse_not(ps, depth)) < 0)
			return -1;
		if (ps->tok != op) {
			ps->p->nodes[cur].b = (uint32_t)x;
			return n;
		}
		if ((x = new_node(ps, type, (uint32_t)x, 0)) < 0)
			return -1;
		ps->p->nodes[cur].b = (uint32_t)x;
		cur = x;
	}
}

static long
parse_or(struct parser *ps, int depth)
{
	return parse_chain(ps, depth, T_OR, N_OR);
}

static long
parse_rule(struct policy *p, const char *name, const char *check,
    const char *origin)
{
	struct parser ps;
	long root;

	memset(&ps, 0, sizeof(ps));
	ps.p = p;
	ps.origin = origin;
	ps.rule = name;
	ps.s = check;
	ps.len = strnlen(check, POLICY_MAX_CHECK + 1);
	ps.first_node = p->nnodes;
	if (ps.len > POLICY_MAX_CHECK) {
		perr(&ps, 0, "check string longer than %d bytes",
		    POLICY_MAX_CHECK);
		return -1;
	}
	if (lex(&ps) == -1)
		return -1;
	if (ps.tok == T_END)
		return new_node(&ps, N_TRUE, 0, 0);	/* "" always passes */
	if ((root = parse_or(&ps, 0)) < 0)
		return -1;
	if (ps.tok != T_END) {
		perr(&ps, ps.tstart, ps.tok == T_RPAREN ? "unbalanced ')'" :
		    "expected 'and', 'or' or the end of the rule");
		return -1;
	}
	return root;
}

/* ---- load-time checks: cycles and evaluation depth ---------------------- */

static int walk_rule(struct policy *, uint32_t, int, const char *);

/* Evaluation depth below node n: frames eval() pushes for left operands
 * and nots; chains and rule references are iterations, not frames. */
static int
walk_node(struct policy *p, uint32_t n, int chain, const char *origin)
{
	const struct pnode *x;
	int d, maxd = 0;

	for (;;) {
		x = &p->nodes[n];
		switch (x->type) {
		case N_AND:
		case N_OR:
			if ((d = walk_node(p, x->a, chain, origin)) < 0)
				return -1;
			if (d + 1 > maxd)
				maxd = d + 1;
			n = x->b;
			continue;
		case N_NOT:
			if ((d = walk_node(p, x->a, chain, origin)) < 0)
				return -1;
			return d + 1 > maxd ? d + 1 : maxd;
		case N_RULE:
			if ((d = walk_rule(p, x->a, chain + 1, origin)) < 0)
				return -1;
			return d > maxd ? d : maxd;
		default:
			return maxd;
		}
	}
}

static int
too_deep(const struct policy *p, const struct prule *ru, const char *origin)
{
	err_set(TS_ECONFIG, "policy %s: rule \"%.*s\" nests too deeply (more "
	    "than %d levels, counting rule references)",
	    ru->from_json ? origin : "built-in", POLICY_MAX_NAME,
	    p->pool + ru->name, POLICY_MAX_EVAL_DEPTH);
	return -1;
}

static int
walk_rule(struct policy *p, uint32_t r, int chain, const char *origin)
{
	struct prule *ru = &p->rules[r];
	int d;

	if (ru->state == R_DONE)
		return ru->depth;
	if (ru->state == R_ACTIVE) {
		err_set(TS_ECONFIG, "policy %s: rule \"%.*s\" refers back "
		    "to itself (reference cycle)", ru->from_json ? origin :
		    "built-in", POLICY_MAX_NAME, p->pool + ru->name);
		return -1;
	}
	/* Every rule in a reference chain counts one toward the bound, so
	 * that this walk's own recursion stays bounded too. */
	if (chain > POLICY_MAX_EVAL_DEPTH)
		return too_deep(p, ru, origin);
	ru->state = R_ACTIVE;
	if ((d = walk_node(p, ru->root, chain, origin)) < 0)
		return -1;
	if (++d > POLICY_MAX_EVAL_DEPTH)
		return too_deep(p, ru, origin);
	ru->state = R_DONE;
	ru->depth = d;
	return d;
}

/* ---- construction ------------------------------------------------------- */

struct def {
	const char	*name;
	const char	*check;
	int		 from_json;
};

static int
def_cmp(const void *a, const void *b)
{
	return strcmp(((const struct def *)a)->name,
	    ((const struct def *)b)->name);
}

static struct def *
def_find(struct def *defs, size_t n, const char *name)
{
	struct def key = { name, NULL, 0 };

	/* No built-in rules (a policy from text alone): defs is NULL, which
	 * bsearch() must not see even with n == 0. */
	if (n == 0)
		return NULL;
	return bsearch(&key, defs, n, sizeof(*defs), def_cmp);
}

static int
def_push(struct def **defs, size_t *n, size_t *cap, const char *name,
    const char *check, int from_json)
{
	if (*n >= POLICY_MAX_RULES) {
		err_set(TS_ECONFIG, "policy: more than %d rules",
		    POLICY_MAX_RULES);
		return -1;
	}
	if (grow((void **)defs, cap, *n + 1, sizeof(**defs)) == -1)
		return -1;
	(*defs)[*n].name = name;
	(*defs)[*n].check = check;
	(*defs)[*n].from_json = from_json;
	(*n)++;
	return 0;
}

static int
merge_json(struct def **defs, size_t *n, size_t *cap, json_t *root,
    const char *origin)
{
	size_t nbuiltin = *n;
	const char *key;
	json_t *val;
	struct def *d;

	if (!json_is_object(root)) {
		err_set(TS_ECONFIG, "policy %s: expected a JSON object of "
		    "\"rule\": \"check\"", origin);
		return -1;
	}
	json_object_foreach(root, key, val) {
		if (key[0] == '\0' || strlen(key) > POLICY_MAX_NAME) {
			err_set(TS_ECONFIG, "policy %s: rule names must be 1 "
			    "to %d bytes", origin, POLICY_MAX_NAME);
			return -1;
		}
		if (!json_is_string(val)) {
			err_set(TS_ECONFIG, "policy %s: rule \"%s\": the check "
			    "must be a string", origin, key);
			return -1;
		}
		if (strlen(json_string_value(val)) != json_string_length(val)) {
			err_set(TS_ECONFIG, "policy %s: rule \"%s\": NUL in "
			    "check string", origin, key);
			return -1;
		}
		if ((d = def_find(*defs, nbuiltin, key)) != NULL) {
			d->check = json_string_value(val);
			d->from_json = 1;
		} else if (def_push(defs, n, cap, key, json_string_value(val),
		    1) == -1) {
			return -1;
		}
	}
	return 0;
}

/* ---- policy.yaml ---------------------------------------------------------- */

/* Where a YAML line is being read, for messages. */
struct yline {
	const char	*origin;
	unsigned	 line;
};

static int
yerr(const struct yline *y, const char *what)
{
	err_set(TS_ECONFIG, "policy %s: line %u: %s", y->origin, y->line,
	    what);
	return -1;
}

/*
 * One scalar at *pp (up to end): quoted, or plain up to stop (":" for a
 * key, end of value for a value). Appends the decoded text to a NUL-
 * terminated malloc'ed *out and leaves *pp after it.
 */
static int
yscalar(const struct yline *y, const char **pp, const char *end, bool key,
    char **out)
{
	const char *p = *pp, *s;
	size_t n = 0;
	char *o;

	if ((o = malloc((size_t)(end - p) + 1)) == NULL) {
		err_set(TS_ENOMEM, "policy: out of memory");
		return -1;
	}
	if (*p == '"' || *p == '\'') {
		char q = *p++;

		for (;;) {
			if (p == end) {
				free(o);
				return yerr(y, "unterminated quoted string");
			}
			if (*p == q && q == '\'' && p + 1 < end && p[1] == '\'') {
				o[n++] = '\'';
				p += 2;
				continue;
			}
			if (*p == q) {
				p++;
				break;
			}
			if (*p == '\\' && q == '"') {
				if (p + 1 == end || strchr("\"\\/t", p[1]) == NULL) {
					free(o);
					return yerr(y, "unsupported escape in a "
					    "double-quoted string (only \\\", "
					    "\\\\, \\/ and \\t)");
				}
				o[n++] = p[1] == 't' ? '\t' : p[1];
				p += 2;
				continue;
			}
			o[n++] = *p++;
		}
	} else {
		if (strchr("{}[]&*!|>%@`,?-", *p) != NULL && !(*p == '-' &&
		    p + 1 < end && p[1] != ' ')) {
			free(o);
			return yerr(y, key ? "a rule name starting with a YAML "
			    "indicator must be quoted" : "a check string "
			    "starting with a YAML indicator (such as @ or !) "
			    "must be quoted");
		}
		for (s = p; p < end; p++) {
			if (key && *p == ':' && (p + 1 == end ||
			    p[1] == ' ' || p[1] == '\t'))
				break;
			if (!key && *p == '#' && (p[-1] == ' ' ||
			    p[-1] == '\t'))
				break;
			if (!key && *p == ':' && p + 1 < end && (p[1] == ' ' ||
			    p[1] == '\t')) {
				free(o);
				return yerr(y, "\": \" in a plain check string "
				    "(YAML reads a mapping): quote it");
			}
			if (key && *p == '#' && p > s && (p[-1] == ' ' ||
			    p[-1] == '\t'))
				break;
		}
		while (p > s && (p[-1] == ' ' || p[-1] == '\t'))
			p--;
		memcpy(o, s, (size_t)(p - s));
		n = (size_t)(p - s);
	}
	while (key && p < end && (*p == ' ' || *p == '\t'))
		p++;
	o[n] = '\0';
	*out = o;
	*pp = p;
	return 0;
}

/* After a value: blanks, then nothing or a comment. */
static int
yrest(const struct yline *y, const char *p, const char *end)
{
	const char *s = p;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || (*p == '#' && p > s))
		return 0;
	return yerr(y, "unexpected text after the value");
}

/* One "rule": "check" line into obj. */
static int
yaml_line(const struct yline *y, const char *p, const char *end, json_t *obj)
{
	char *key = NULL, *val = NULL;
	json_t *v;
	int rc = -1;

	if (*p == ' ' || *p == '\t')
		return yerr(y, "indented line: only \"rule\": \"check\" "
		    "entries at column 0 are supported");
	if (yscalar(y, &p, end, true, &key) == -1)
		goto out;
	if (p == end || *p != ':') {
		yerr(y, "expected \"rule\": \"check\"");
		goto out;
	}
	p++;
	if (p < end && *p != ' ' && *p != '\t') {
		yerr(y, "expected a blank after ':'");
		goto out;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#') {
		yerr(y, "missing check string (write \"\" for always)");
		goto out;
	}
	if (yscalar(y, &p, end, false, &val) == -1 || yrest(y, p, end) == -1)
		goto out;
	if (*key == '\0') {
		yerr(y, "empty rule name");
		goto out;
	}
	if (json_object_get(obj, key) != NULL) {
		err_set(TS_ECONFIG, "policy %s: line %u: rule \"%s\" defined "
		    "twice", y->origin, y->line, key);
		goto out;
	}
	if ((v = json_string(val)) == NULL || json_object_set_new(obj, key,
	    v) == -1) {
		err_set(TS_ECONFIG, "policy %s: line %u: not valid UTF-8",
		    y->origin, y->line);
		goto out;
	}
	rc = 0;
out:
	free(key);
	free(val);
	return rc;
}

/* The YAML subset of policy.h into a JSON object. */
static json_t *
yaml_parse(const char *text, size_t len, const char *origin)
{
	struct yline y = { origin, 0 };
	const char *p = text, *end = text + len, *eol, *q, *r;
	bool seen = false;
	json_t *obj;

	if ((obj = json_object()) == NULL) {
		err_set(TS_ENOMEM, "policy: out of memory");
		return NULL;
	}
	if ((r = memchr(text, '\0', len)) != NULL) {
		for (y.line = 1, q = text; q < r; q++)
			y.line += *q == '\n';
		yerr(&y, "NUL byte");
		goto fail;
	}
	for (; p < end; p = eol + (eol < end)) {
		y.line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		q = eol;
		if (q > p && q[-1] == '\r')
			q--;
		for (r = p; r < q && (*r == ' ' || *r == '\t'); r++)
			;
		if (r == q || *r == '#')
			continue;	/* blank or comment line */
		if (!seen && q - p >= 3 && strncmp(p, "---", 3) == 0) {
			for (r = p + 3; r < q && (*r == ' ' || *r == '\t');
			    r++)
				;
			if (r == q || (*r == '#' && r > p + 3)) {
				seen = true;	/* document start */
				continue;
			}
		}
		seen = true;
		if (yaml_line(&y, p, q, obj) == -1)
			goto fail;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

/* JSON if the first character that is not white space opens an object or
 * an array (which then fails as "expected a JSON object"), YAML
 * otherwise: YAML comments are not JSON. */
static bool
looks_json(const char *p, size_t len)
{
	const char *end = p + len;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'))
		p++;
	return p < end && (*p == '{' || *p == '[');
}

void
policy_free(struct policy **pp)
{
	struct policy *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	free(p->nodes);
	free(p->pool);
	free(p->rules);
	free(p);
	*pp = NULL;
}

struct policy *
policy_new(const struct policy_default *const *tables, const char *json,
    size_t jsonlen, const char *origin)
{
	struct policy *p = NULL;
	struct def *defs = NULL;
	size_t ndefs = 0, capdefs = 0, i;
	const struct policy_default *t;
	json_error_t jerr;
	json_t *root = NULL;
	long off, r;

	if (origin == NULL)
		origin = "(policy)";
	for (; tables != NULL && *tables != NULL; tables++)
		for (t = *tables; t->name != NULL; t++)
			if (def_push(&defs, &ndefs, &capdefs, t->name,
			    t->check != NULL ? t->check : "", 0) == -1)
				goto fail;
	if (ndefs > 0)
		qsort(defs, ndefs, sizeof(*defs), def_cmp);
	for (i = 1; i < ndefs; i++) {
		if (strcmp(defs[i - 1].name, defs[i].name) == 0) {
			err_set(TS_ECONFIG, "policy: built-in rule \"%s\" "
			    "defined twice", defs[i].name);
			goto fail;
		}
	}
	if (json != NULL) {
		if (jsonlen > POLICY_MAX_FILE) {
			err_set(TS_ECONFIG, "policy %s: larger than %d bytes",
			    origin, POLICY_MAX_FILE);
			goto fail;
		}
		if (!looks_json(json, jsonlen)) {
			if ((root = yaml_parse(json, jsonlen, origin)) == NULL)
				goto fail;
		} else if ((root = json_loadb(json, jsonlen,
		    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
			err_set(TS_ECONFIG, "policy %s: line %d column %d: %s",
			    origin, jerr.line, jerr.column, jerr.text);
			goto fail;
		}
		if (merge_json(&defs, &ndefs, &capdefs, root, origin) == -1)
			goto fail;
		if (ndefs > 0)
			qsort(defs, ndefs, sizeof(*defs), def_cmp);
	}

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (ndefs > 0 && (p->rules = calloc(ndefs, sizeof(*p->rules))) ==
	    NULL)) {
		err_set(TS_ENOMEM, "policy: out of memory");
		goto fail;
	}
	p->nrules = ndefs;
	/* All names first: a check may refer to any rule. */
	for (i = 0; i < ndefs; i++) {
		if (strlen(defs[i].name) > POLICY_MAX_NAME) {
			err_set(TS_ECONFIG, "policy: rule name longer than %d "
			    "bytes", POLICY_MAX_NAME);
			goto fail;
		}
		if ((off = pool_add(p, defs[i].name, strlen(defs[i].name))) < 0)
			goto fail;
		p->rules[i].name = (uint32_t)off;
	}
	for (i = 0; i < ndefs; i++) {
		r = parse_rule(p, defs[i].name, defs[i].check,
		    defs[i].from_json ? origin : "built-in");
		if (r < 0)
			goto fail;
		p->rules[i].root = (uint32_t)r;
		p->rules[i].from_json = (uint8_t)defs[i].from_json;
	}
	for (i = 0; i < ndefs; i++)
		if (walk_rule(p, (uint32_t)i, 0, origin) < 0)
			goto fail;
	json_decref(root);
	free(defs);
	return p;
fail:
	json_decref(root);
	free(defs);
	policy_free(&p);
	return NULL;
}

struct policy *
policy_load(const struct policy_default *const *tables, const char *path)
{
	struct policy *p;
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if (path == NULL)
		return policy_new(tables, NULL, 0, NULL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err_set_errno(TS_ECONFIG, "policy file %s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > POLICY_MAX_FILE) {
		err_set(TS_ECONFIG, "policy file %s: not a regular file of at "
		    "most %d bytes", path, POLICY_MAX_FILE);
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		err_set(TS_ENOMEM, "policy: out of memory");
		close(fd);
		return NULL;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set_errno(TS_ECONFIG, "policy file %s: read", path);
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;	/* shrank under us: parse what is there */
		len += (size_t)n;
	}
	close(fd);
	p = policy_new(tables, buf, len, path);
	free(buf);
	return p;
}

/* ---- enforcement -------------------------------------------------------- */

static const char *
target_get(const struct policy_target *t, const char *key)
{
	size_t i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < t->n; i++)
		if (t->kv[i].key != NULL && strcmp(t->kv[i].key, key) == 0)
			return t->kv[i].value;
	return NULL;
}

static const char *
cred_value(const struct policy_creds *c, enum cattr attr)
{
	switch (attr) {
	case C_USER_ID:			return c->user_id;
	case C_USER_DOMAIN_ID:		return c->user_domain_id;
	case C_PROJECT_ID:		return c->project_id;
	case C_PROJECT_DOMAIN_ID:	return c->project_domain_id;
	case C_DOMAIN_ID:		return c->domain_id;
	case C_SYSTEM_SCOPE:		return c->system_scope ? "all" : NULL;
	case C_IS_ADMIN:		break;
	}
	return NULL;
}

static bool
eval(const struct policy *p, uint32_t n, const struct policy_creds *c,
    const struct policy_target *t)
{
	const struct pnode *x;
	const char *v, *m;
	size_t i;

	for (;;) {
		x = &p->nodes[n];
		switch (x->type) {
		case N_TRUE:
			return true;
		case N_AND:
			if (!eval(p, x->a, c, t))
				return false;
			n = x->b;
			break;
		case N_OR:
			if (eval(p, x->a, c, t))
				return true;
			n = x->b;
			break;
		case N_NOT:
			return !eval(p, x->a, c, t);
		case N_RULE:
			n = p->rules[x->a].root;
			break;
		case N_ROLE:
			for (i = 0; i < c->nroles; i++)
				if (c->roles[i] != NULL && strcasecmp(
				    c->roles[i], p->pool + x->a) == 0)
					return true;
			return false;
		case N_CRED:
			if (x->attr == C_IS_ADMIN)
				return c->is_admin == (x->b != 0);
			v = cred_value(c, (enum cattr)x->attr);
			if (v == NULL || v[0] == '\0')
				return false;
			m = x->from_target ? target_get(t, p->pool + x->a) :
			    p->pool + x->a;
			return m != NULL && strcmp(v, m) == 0;
		default:	/* N_FALSE */
			return false;
		}
	}
}

bool
policy_has_rule(const struct policy *p, const char *rule)
{
	return find_rule(p, rule, strlen(rule)) >= 0;
}

int
policy_enforce(const struct policy *p, const char *rule,
    const struct policy_creds *creds, const struct policy_target *target)
{
	static const struct policy_creds nobody;
	long r;

	if ((r = find_rule(p, rule, strlen(rule))) < 0)
		r = find_rule(p, "default", strlen("default"));
	if (r >= 0 && eval(p, p->rules[r].root, creds != NULL ? creds : &nobody,
	    target))
		return 0;
	err_set(TS_EFORBIDDEN, "Policy doesn't allow %s to be performed.",
	    rule);
	return -1;
}

/* ---- sample --------------------------------------------------------------- */

/* s as a YAML double-quoted string. */
static void
print_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

int
policy_print_sample(const struct policy_default *const *tables, FILE *fp)
{
	const struct policy_default *t;
	const char *d, *sp, *brk;
	size_t len;

	for (; tables != NULL && *tables != NULL; tables++) {
		for (t = *tables; t->name != NULL; t++) {
			/* "# " + words, wrapped at 70 columns as oslo's
			 * textwrap does. */
			d = t->description != NULL ? t->description : "";
			while (*d != '\0') {
				len = strlen(d);
				if (len <= 68) {
					fprintf(fp, "# %s\n", d);
					break;
				}
				brk = NULL;
				for (sp = d; sp <= d + 68; sp++)
					if (*sp == ' ')
						brk = sp;
				if (brk == NULL && (brk = strchr(d + 68, ' ')) ==
				    NULL)
					brk = d + len;
				fprintf(fp, "# %.*s\n", (int)(brk - d), d);
				d = *brk == ' ' ? brk + 1 : brk;
			}
			fputc('#', fp);
			print_quoted(fp, t->name);
			fputs(": ", fp);
			print_quoted(fp, t->check != NULL ? t->check : "");
			fputs("\n\n", fp);
		}
	}
	if (fflush(fp) == EOF || ferror(fp)) {
		err_set_errno(TS_EIO, "policy sample");
		return -1;
	}
	return 0;
}

/* ---- identity defaults -------------------------------------------------- */

#define ADMIN		"rule:admin_required"
#define ADMIN_OR_READER	"rule:admin_or_system_reader"

const struct policy_default policy_identity_defaults[] = {
	/* Base rules, Keystone's names. The admin role anywhere is the cloud
	 * admin, as in Keystone's legacy defaults with enforce_scope off,
	 * which is what the clients and Tempest expect. */
	{ "admin_required",		"role:admin",
	    "The admin role on any scope: the cloud admin (Keystone's "
	    "legacy default)." },
	{ "service_role",		"role:service",
	    "The service role: services acting for a user." },
	{ "service_or_admin",		"rule:admin_required or "
					"rule:service_role",
	    "The admin or service role." },
	{ "owner",			"user_id:%(user_id)s",
	    "The caller is the user named by {user_id} in the URL." },
	{ "admin_or_owner",		"rule:admin_required or rule:owner",
	    "The admin, or the user named in the URL." },
	{ "token_subject",		"user_id:%(target.token.user_id)s",
	    "The caller is the user of the X-Subject-Token." },
	{ "admin_or_token_subject",	"rule:admin_required or "
					"rule:token_subject",
	    "The admin, or the user of the X-Subject-Token." },
	{ "service_admin_or_token_subject", "rule:service_or_admin or "
					"rule:token_subject",
	    "The admin or service role, or the user of the X-Subject-Token." },
	/* Keystone's implied roles: admin implies member implies reader. */
	{ "system_reader",		"(role:reader or role:member or "
					"role:admin) and system_scope:all",
	    "Any role on a system-scoped token." },
	{ "admin_or_system_reader",	"rule:admin_required or "
					"rule:system_reader",
	    "The admin, or a reader on a system-scoped token." },
	{ "default",			ADMIN,
	    "The rule used for a rule name the policy does not define." },

	{ "identity:get_user",		ADMIN_OR_READER " or "
					"user_id:%(target.user.id)s",
	    "Show user details." },
	{ "identity:list_users",	ADMIN_OR_READER,
	    "List users." },
	{ "identity:create_user",	ADMIN,
	    "Create an user." },
	{ "identity:update_user",	ADMIN,
	    "Update an user." },
	{ "identity:delete_user",	ADMIN,
	    "Delete an user." },
	{ "identity:change_password",	"rule:owner",
	    "Change a user's password (not enforced: the original password "
	    "is the proof)." },
	{ "identity:list_user_projects", ADMIN_OR_READER " or rule:owner",
	    "List the projects a user has roles on." },

	{ "identity:get_project",	ADMIN_OR_READER " or "
					"project_id:%(target.project.id)s",
	    "Show project details." },
	{ "identity:list_projects",	ADMIN_OR_READER,
	    "List projects." },
	{ "identity:create_project",	ADMIN,
	    "Create a project." },
	{ "identity:update_project",	ADMIN,
	    "Update a project." },
	{ "identity:delete_project",	ADMIN,
	    "Delete a project." },

	{ "identity:get_domain",	ADMIN_OR_READER " or "
					"domain_id:%(target.domain.id)s or "
					"project_domain_id:%(target.domain.id)s",
	    "Show domain details." },
	{ "identity:list_domains",	ADMIN_OR_READER,
	    "List domains." },
	{ "identity:create_domain",	ADMIN,
	    "Create a domain." },
	{ "identity:update_domain",	ADMIN,
	    "Update a domain." },
	{ "identity:delete_domain",	ADMIN,
	    "Delete a domain." },

	{ "identity:get_role",		ADMIN_OR_READER,
	    "Show role details." },
	{ "identity:list_roles",	ADMIN_OR_READER,
	    "List roles." },
	{ "identity:create_role",	ADMIN,
	    "Create a role." },
	{ "identity:update_role",	ADMIN,
	    "Update a role." },
	{ "identity:delete_role",	ADMIN,
	    "Delete a role." },

	{ "identity:get_service",	ADMIN_OR_READER,
	    "Show service details." },
	{ "identity:list_services",	ADMIN_OR_READER,
	    "List services." },
	{ "identity:create_service",	ADMIN,
	    "Create a service." },
	{ "identity:update_service",	ADMIN,
	    "Update a service." },
	{ "identity:delete_service",	ADMIN,
	    "Delete a service." },

	{ "identity:get_endpoint",	ADMIN_OR_READER,
	    "Show endpoint details." },
	{ "identity:list_endpoints",	ADMIN_OR_READER,
	    "List endpoints." },
	{ "identity:create_endpoint",	ADMIN,
	    "Create an endpoint." },
	{ "identity:update_endpoint",	ADMIN,
	    "Update an endpoint." },
	{ "identity:delete_endpoint",	ADMIN,
	    "Delete an endpoint." },

	/* Regions are public to any authenticated caller, as in Keystone. */
	{ "identity:get_region",	"",
	    "Show region details." },
	{ "identity:list_regions",	"",
	    "List regions." },
	{ "identity:create_region",	ADMIN,
	    "Create a region." },
	{ "identity:update_region",	ADMIN,
	    "Update a region." },
	{ "identity:delete_region",	ADMIN,
	    "Delete a region." },

	{ "identity:check_grant",	ADMIN_OR_READER,
	    "Check whether a role is granted to a user or group on a "
	    "project, domain or the system." },
	{ "identity:list_grants",	ADMIN_OR_READER,
	    "List the roles granted to a user or group on a project, "
	    "domain or the system." },
	{ "identity:create_grant",	ADMIN,
	    "Grant a role to a user or group on a project, domain or the "
	    "system." },
	{ "identity:revoke_grant",	ADMIN,
	    "Revoke a role from a user or group on a project, domain or "
	    "the system." },
	{ "identity:list_role_assignments", ADMIN_OR_READER,
	    "List role assignments." },

	{ "identity:check_token",	"rule:admin_or_token_subject",
	    "Check a token (HEAD /v3/auth/tokens)." },
	{ "identity:validate_token",	"rule:service_admin_or_token_subject",
	    "Validate a token (GET /v3/auth/tokens)." },
	{ "identity:revoke_token",	"rule:admin_or_token_subject",
	    "Revoke a token (DELETE /v3/auth/tokens)." },

	{ "identity:get_auth_catalog",	"",
	    "Get the service catalog of the caller's token." },
	{ "identity:get_auth_projects",	"",
	    "List the projects the caller's token may be scoped to." },
	{ "identity:get_auth_domains",	"",
	    "List the domains the caller's token may be scoped to." },
	{ "identity:get_auth_system",	"",
	    "List the system scopes the caller's token may use." },

	/* Groups and implied roles: Keystone's legacy policy.json said
	 * admin_required for all but list_groups_for_user; these routes fell
	 * back to "default" (admin) before they were listed, and still do. */
	{ "identity:get_group",		ADMIN,
	    "Show group details." },
	{ "identity:list_groups",	ADMIN,
	    "List groups." },
	{ "identity:create_group",	ADMIN,
	    "Create a group." },
	{ "identity:update_group",	ADMIN,
	    "Update a group." },
	{ "identity:delete_group",	ADMIN,
	    "Delete a group." },
	{ "identity:list_groups_for_user", ADMIN,
	    "List the groups a user belongs to." },
	{ "identity:list_users_in_group", ADMIN,
	    "List the members of a group." },
	{ "identity:add_user_to_group",	ADMIN,
	    "Add a user to a group." },
	{ "identity:remove_user_from_group", ADMIN,
	    "Remove a user from a group." },
	{ "identity:check_user_in_group", ADMIN,
	    "Check whether a user is a member of a group." },
	{ "identity:list_role_inference_rules", ADMIN,
	    "List all role inference rules." },
	{ "identity:list_implied_roles", ADMIN,
	    "List the roles a role implies." },
	{ "identity:create_implied_role", ADMIN,
	    "Make one role imply another." },
	{ "identity:get_implied_role",	ADMIN,
	    "Show a role inference rule." },
	{ "identity:check_implied_role", ADMIN,
	    "Check whether one role implies another." },
	{ "identity:delete_implied_role", ADMIN,
	    "Delete a role inference rule." },
	{ NULL, NULL, NULL },
};
