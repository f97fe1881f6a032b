#!/usr/bin/python3
"""Find assertions in bats/bash files that can never fail a test.

usage: check_assertions.py FILE...

Prints FILE:LINE: WHY for each offender; exit 1 if there is any.

Why: bats runs a test under `set -e`, and bash ignores the failure of any
command of an `A && B && C` list except the last. So in
    [ "$status" -eq 2 ] && [[ "$output" == *x* ]]
the status is never checked. The rules:

 1. An assertion may not stand left of `&&`, unless the whole and-or list
    ends in control flow (`break`, `continue`, `return`, `exit`, or a
    `{ ...; }` group whose last command is one of those): then it is a
    guard ("stop waiting once X holds"), not a check. A conditional action
    must be written `if ...; then ...; fi` or `[ ! X ] || action`.
    Conditions of `if`, `elif`, `while` and `until` are exempt (they are
    meant to be false sometimes); so is what lies inside [[ ]], quotes,
    $( ), heredocs and comments.
 2. An assertion followed by `|| true` (or `|| :`) checks nothing.
 3. Inside a @test, a negated command `! cmd` never fails the test
    (bash does not apply `set -e` to it): use `run` and check the status.

An assertion is a command (the last of a pipeline) named `[`, `[[`, `test`,
`((`, grep (any flags), cmp or diff, or a group whose last command is one.
"""
import sys

ASSERT = {"[", "[[", "test", "((", "grep", "egrep", "fgrep", "cmp", "diff"}
CONTROL = {"break", "continue", "return", "exit"}
SEPS = {";", "&", "\n"}


class Tok:
    __slots__ = ("text", "op", "line")

    def __init__(self, text, op, line):
        self.text, self.op, self.line = text, op, line

    def __repr__(self):
        return f"{'op' if self.op else 'w'}:{self.text!r}@{self.line}"


def tokenize(src):
    """Words and operators with their line numbers. Quotes, $( ), ${ },
    backquotes and [[ ]] stay inside one word; comments and heredoc bodies
    are dropped."""
    toks, i, n, line = [], 0, len(src), 1
    heredocs = []  # delimiters whose bodies start after the next newline
    word, wline = [], None

    def flush():
        nonlocal word, wline
        if word:
            toks.append(Tok("".join(word), False, wline))
        word, wline = [], None

    def skip_nested(j):
        """From just after an opening "$(" / "${" / "`", to just after its
        close; returns (new index, newlines crossed)."""
        opener = src[j - 1]
        close = {"(": ")", "{": "}", "`": "`"}[opener]
        depth, nl = 1, 0
        while j < n:
            c = src[j]
            if c == "\\":
                j += 2
                continue
            if c == "\n":
                nl += 1
            if c == "'" and opener != "`":
                k = src.index("'", j + 1)
                nl += src.count("\n", j, k)
                j = k + 1
                continue
            if c == '"' and opener != "`":
                j, n2 = skip_dquote(j + 1)
                nl += n2
                continue
            if c == "$" and j + 1 < n and src[j + 1] in "({":
                j, n2 = skip_nested(j + 2)
                nl += n2
                continue
            if c == close and opener == "`":
                return j + 1, nl
            if c == opener and opener != "`":
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    return j + 1, nl
            j += 1
        return j, nl

    def skip_dquote(j):
        nl = 0
        while j < n:
            c = src[j]
            if c == "\\":
                j += 2
                continue
            if c == "\n":
                nl += 1
            if c == '"':
                return j + 1, nl
            if c == "$" and j + 1 < n and src[j + 1] in "({":
                j, n2 = skip_nested(j + 2)
                nl += n2
                continue
            if c == "`":
                j, n2 = skip_nested(j + 1)
                nl += n2
                continue
            j += 1
        return j, nl

    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] == "\n":
            i += 2
            line += 1
            continue
        if c == "\\":
            if wline is None:
                wline = line
            word.append(src[i:i + 2])
            i += 2
            continue
        if c == "#" and not word:
            while i < n and src[i] != "\n":
                i += 1
            continue
        if c == "\n":
            flush()
            toks.append(Tok("\n", True, line))
            i += 1
            line += 1
            for delim, strip in heredocs:
                while i < n:
                    e = src.find("\n", i)
                    e = n if e < 0 else e
                    body = src[i:e]
                    i = e + 1
                    line += 1
                    if (body.lstrip("\t") if strip else body) == delim:
                        break
            heredocs = []
            continue
        if c in " \t":
            flush()
            i += 1
            continue
        if c in "'\"`" or (c == "$" and i + 1 < n and src[i + 1] in "({"):
            if wline is None:
                wline = line
            start = i
            if c == "'":
                i = src.index("'", i + 1) + 1
                nl = src.count("\n", start, i)
            elif c == '"':
                i, nl = skip_dquote(i + 1)
            elif c == "`":
                i, nl = skip_nested(i + 1)
            else:
                i, nl = skip_nested(i + 2)
            word.append(src[start:i])
            line += nl
            continue
        if c == "<" and src.startswith("<<", i) and not src.startswith("<<<", i):
            flush()
            i += 2
            strip = False
            if i < n and src[i] == "-":
                strip = True
                i += 1
            while i < n and src[i] in " \t":
                i += 1
            start = i
            while i < n and src[i] not in " \t\n;|&<>)":
                i += 1
            heredocs.append((src[start:i].strip("'\""), strip))
            continue
        if src.startswith("<<<", i):
            if wline is None:
                wline = line
            word.append("<<<")
            i += 3
            continue
        if c in "<>":
            # Redirections (2>&1, >&2, &>) stay words.
            if wline is None:
                wline = line
            word.append(c)
            i += 1
            if i < n and src[i] == "&":
                word.append("&")
                i += 1
            continue
        if c == "&" and i + 1 < n and src[i + 1] == ">":
            if wline is None:
                wline = line
            word.append("&>")
            i += 2
            continue
        if c == "(" and word and word[-1].endswith("="):
            # An array assignment: NAME=( ... ).
            start = i
            i, nl = skip_nested(i + 1)
            word.append(src[start:i])
            line += nl
            continue
        for op in ("&&", "||", ";;", "((", "))", ";", "&", "|", "(", ")"):
            if src.startswith(op, i):
                if op in ("((", "))") and word:
                    continue  # name((, i++)): single parens, not arithmetic
                flush()
                toks.append(Tok(op, True, line))
                i += len(op)
                break
        else:
            if wline is None:
                wline = line
            word.append(c)
            i += 1
    flush()
    return toks


class Checker:
    def __init__(self, path, toks):
        self.path, self.toks, self.i = path, toks, 0
        self.found = []
        self.in_test = 0

    # ---- token helpers
    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self):
        t = self.peek()
        self.i += 1
        return t

    def is_word(self, t, *words):
        return t is not None and not t.op and t.text in words

    def is_op(self, t, *ops):
        return t is not None and t.op and t.text in ops

    def skip_nl(self):
        while self.is_op(self.peek(), "\n"):
            self.i += 1

    def expect_word(self, w):
        while self.is_op(self.peek(), *SEPS):
            self.i += 1
        t = self.next()
        if not self.is_word(t, w):
            raise SyntaxError(f"{self.path}:{t.line if t else 'EOF'}: expected {w!r}, got {t}")

    def report(self, line, why):
        self.found.append((line, why))

    # ---- grammar (a subset of bash sufficient for test suites)
    def compound_list(self, terms, cond=False):
        """Statements until a terminator word or operator in @terms."""
        stmts = []
        while True:
            while self.is_op(self.peek(), *SEPS):
                self.i += 1
            t = self.peek()
            if t is None or t.text in terms:
                return stmts
            stmts.append(self.and_or(cond))

    def and_or(self, cond):
        items = [(None, self.pipeline())]
        while self.is_op(self.peek(), "&&", "||"):
            op = self.next()
            self.skip_nl()
            items.append((op, self.pipeline()))
        if not cond:
            self.check(items)
        return items

    def pipeline(self):
        neg = None
        if self.is_word(self.peek(), "!"):
            neg = self.next()
        cmds = [self.command()]
        while self.is_op(self.peek(), "|"):
            self.next()
            self.skip_nl()
            cmds.append(self.command())
        return {"neg": neg, "cmds": cmds}

    def skip_arith(self):
        """Consume (( ... )): parens count one each, as ')' ')' or '))'."""
        self.next()
        depth = 2
        while depth > 0:
            u = self.next()
            if u is None:
                break
            if self.is_op(u, "(", "(("):
                depth += len(u.text)
            elif self.is_op(u, ")", "))"):
                depth -= len(u.text)

    def trailing_words(self):
        while self.peek() is not None and not self.peek().op:
            self.next()

    def command(self):
        t = self.peek()
        if t is None:
            raise SyntaxError(f"{self.path}: unexpected end of file")
        if self.is_op(t, "("):
            self.next()
            body = self.compound_list({")"})
            self.next()
            self.trailing_words()
            return {"group": body}
        if self.is_op(t, "(("):
            self.skip_arith()
            self.trailing_words()
            return {"words": ["(("]}
        if self.is_word(t, "{"):
            self.next()
            body = self.compound_list({"}"})
            self.expect_word("}")
            self.trailing_words()
            return {"group": body}
        if self.is_word(t, "if"):
            self.next()
            self.compound_list({"then"}, cond=True)
            self.expect_word("then")
            while True:
                self.compound_list({"elif", "else", "fi"})
                u = self.next()
                if self.is_word(u, "elif"):
                    self.compound_list({"then"}, cond=True)
                    self.expect_word("then")
                elif self.is_word(u, "else"):
                    self.compound_list({"fi"})
                    self.expect_word("fi")
                    break
                else:
                    break
            self.trailing_words()
            return {"compound": "if"}
        if self.is_word(t, "while", "until"):
            self.next()
            self.compound_list({"do"}, cond=True)
            self.expect_word("do")
            self.compound_list({"done"})
            self.expect_word("done")
            self.trailing_words()
            return {"compound": "loop"}
        if self.is_word(t, "for"):
            self.next()
            if self.is_op(self.peek(), "(("):
                self.skip_arith()  # for ((init; cond; step)): ';' inside
            while self.peek() is not None and not self.is_op(self.peek(), ";", "\n"):
                self.next()
            self.expect_word("do")
            self.compound_list({"done"})
            self.expect_word("done")
            self.trailing_words()
            return {"compound": "loop"}
        if self.is_word(t, "case"):
            self.next()
            while self.peek() is not None and not self.is_word(self.peek(), "in"):
                self.next()
            self.next()
            while True:
                self.skip_nl()
                if self.peek() is None or self.is_word(self.peek(), "esac"):
                    self.next()
                    break
                while self.peek() is not None and not self.is_op(self.peek(), ")"):
                    self.next()
                self.next()
                self.compound_list({";;", "esac"})
                if self.is_op(self.peek(), ";;"):
                    self.next()
            self.trailing_words()
            return {"compound": "case"}
        if self.is_word(t, "@test"):
            self.next()
            self.next()  # the test's name
            self.in_test += 1
            self.command()
            self.in_test -= 1
            return {"compound": "test"}
        if self.is_word(t, "function"):
            self.next()
            self.next()
            if self.is_op(self.peek(), "("):
                self.next()
                self.next()
            self.skip_nl()
            self.command()
            return {"compound": "function"}
        words = []
        while True:
            u = self.peek()
            if u is None or u.op:
                break
            self.next()
            words.append(u.text)
            if u.text == "[[":
                # Everything up to ]] is the test's own syntax.
                while True:
                    v = self.next()
                    if v is None or (not v.op and v.text == "]]"):
                        break
        if not words:
            raise SyntaxError(f"{self.path}:{t.line}: unexpected {t.text!r}")
        if len(words) == 1 and self.is_op(self.peek(), "(") and \
                self.i + 1 < len(self.toks) and self.is_op(self.toks[self.i + 1], ")"):
            self.next()
            self.next()
            self.skip_nl()
            self.command()
            return {"compound": "function"}
        return {"words": words}

    # ---- the rules
    def last_simple(self, node):
        """The simple command that decides a pipeline's/group's status."""
        if "words" in node:
            return node["words"]
        if "group" in node and node["group"]:
            last = node["group"][-1][-1][1]
            return self.last_simple(last["cmds"][-1])
        return None

    def is_assertion(self, pipe, quiet=False):
        """With @quiet, a grep counts only with -q (a plain grep in a
        pipeline may be there to show lines)."""
        w = self.last_simple(pipe["cmds"][-1])
        if not w or w[0] not in ASSERT:
            return False
        if quiet and w[0].endswith("grep"):
            return any(a == "--quiet" or (a.startswith("-") and not a.startswith("--")
                                           and "q" in a) for a in w[1:])
        return True

    def is_control(self, pipe):
        w = self.last_simple(pipe["cmds"][-1])
        return bool(w) and w[0] in CONTROL

    def check(self, items):
        if len(items) == 1:
            neg = items[0][1]["neg"]
            if neg is not None and self.in_test:
                self.report(neg.line, "'! cmd' never fails a test (set -e ignores it): use run")
            return
        control = self.is_control(items[-1][1])
        for k in range(len(items) - 1):
            pipe = items[k][1]
            op = items[k + 1][0]
            if not self.is_assertion(pipe):
                continue
            nxt = items[k + 1][1]
            if op.text == "&&" and not control:
                self.report(op.line, "assertion left of '&&' is never checked: one assertion a line")
            if op.text == "||":
                w = nxt["cmds"][-1].get("words")
                if w in (["true"], [":"]) and self.is_assertion(pipe, quiet=True):
                    self.report(op.line, "assertion followed by '|| true' checks nothing")

    def run(self):
        self.compound_list(set())
        if self.peek() is not None:
            raise SyntaxError(f"{self.path}:{self.peek().line}: unexpected {self.peek().text!r}")
        return self.found


def main():
    bad = 0
    for path in sys.argv[1:]:
        with open(path) as f:
            src = f.read()
        try:
            found = Checker(path, tokenize(src)).run()
        except (SyntaxError, ValueError) as e:
            print(f"{path}: cannot parse: {e}")
            bad += 1
            continue
        for line, why in sorted(set(found)):
            print(f"{path}:{line}: {why}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
