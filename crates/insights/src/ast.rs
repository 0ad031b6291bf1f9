//! The syntax tree of a Logs Insights query.

/// A half-open range of character offsets into the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First character (0-based).
    pub start: usize,
    /// One past the last character.
    pub end: usize,
}

impl Span {
    /// A span.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A parsed query: an optional `SOURCE` then the piped commands.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `SOURCE logGroups(...)`, when present.
    pub source: Option<Source>,
    /// The commands, in order.
    pub commands: Vec<Command>,
}

/// `SOURCE logGroups(namePrefix: [...], logGroupClass: ...)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    /// Name prefixes (empty = every group).
    pub name_prefixes: Vec<String>,
    /// `logGroupClass`, when given.
    pub log_group_class: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// One command with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// What it does.
    pub kind: CommandKind,
    /// The whole command's text range.
    pub span: Span,
}

/// An expression with an optional alias, as in `fields`, `display`, `stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The expression.
    pub expr: Expr,
    /// `as name`.
    pub alias: Option<String>,
    /// The expression's text as written (the column name when not aliased).
    pub text: String,
}

impl Item {
    /// The output name: the alias, or the expression as written.
    pub fn name(&self) -> String {
        self.alias.clone().unwrap_or_else(|| match &self.expr.kind {
            ExprKind::Field(f) => f.name(),
            _ => self.text.clone(),
        })
    }
}

/// A sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The key.
    pub expr: Expr,
    /// Descending.
    pub desc: bool,
}

/// How `parse` extracts fields.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsePattern {
    /// `"text * more *" as a, b`.
    Glob {
        /// The glob text.
        glob: String,
        /// Names for the `*`s.
        names: Vec<String>,
    },
    /// `/(?<name>...)/ [multi]`.
    Regex {
        /// The regex source.
        regex: String,
        /// One row per match.
        multi: bool,
    },
    /// `logfmt`: `key=value` pairs.
    Logfmt,
    /// `csv as a, b, c`: comma-separated values.
    Csv {
        /// Column names.
        names: Vec<String>,
    },
}

/// Which earlier period `diff` compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffPeriod {
    /// The equally long range just before.
    Previous,
    /// The same range a day earlier.
    Day,
    /// A week earlier.
    Week,
    /// A month (30 days) earlier.
    Month,
}

/// The commands.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    /// `fields a, b as c`.
    Fields(Vec<Item>),
    /// `filter cond` / `where cond`.
    Filter(Expr),
    /// `filterIndex cond`.
    FilterIndex(Expr),
    /// `stats aggs by keys`.
    Stats {
        /// Aggregation items.
        items: Vec<Item>,
        /// Group keys.
        by: Vec<Item>,
    },
    /// `sort k [asc|desc], ...`.
    Sort(Vec<SortKey>),
    /// `limit [any] n`.
    Limit {
        /// Row cap.
        n: u64,
        /// `limit any`: no ordering.
        any: bool,
    },
    /// `parse [field] pattern`.
    Parse {
        /// The field parsed (`@message` when omitted).
        field: Expr,
        /// The pattern.
        pattern: ParsePattern,
    },
    /// `display a, b`.
    Display(Vec<Item>),
    /// `dedup a, b`.
    Dedup(Vec<Expr>),
    /// `unnest field into name`.
    Unnest {
        /// The list.
        field: Expr,
        /// The element's name.
        into: String,
    },
    /// `expand field`.
    Expand(Expr),
    /// `pattern expr`.
    Pattern(Expr),
    /// `diff [previousDay|previousWeek|previousMonth]`.
    Diff(DiffPeriod),
    /// `anomaly`.
    Anomaly,
    /// `unmask`: shows masked data (nothing is masked in stored events).
    Unmask,
}

/// A field reference: path segments (`a.b.0.c` → `a`, `b`, `0`, `c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// Segments.
    pub path: Vec<String>,
}

impl FieldRef {
    /// The flattened name (`a.b.c`).
    pub fn name(&self) -> String {
        self.path.join(".")
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `^`
    Pow,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `and`
    And,
    /// `or`
    Or,
}

impl BinOp {
    /// True for `= != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }

    /// True for `+ - * / % ^`.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Pow
        )
    }
}

/// A time period such as `5m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// How many units.
    pub count: i64,
    /// The unit.
    pub unit: TimeUnit,
}

/// Units of [`Period`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// ms
    Millisecond,
    /// s
    Second,
    /// m
    Minute,
    /// h
    Hour,
    /// d
    Day,
    /// w
    Week,
    /// mo
    Month,
    /// q
    Quarter,
    /// y
    Year,
}

/// An expression with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// Expression forms.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A field.
    Field(FieldRef),
    /// `"text"` or `'text'`.
    Str(String),
    /// `42`, `0.5`.
    Num(f64),
    /// `/regex/`.
    Regex(String),
    /// `5m`.
    Period(Period),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `*` in `count(*)`.
    Star,
    /// `not e`.
    Not(Box<Expr>),
    /// `-e`.
    Neg(Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `e [not] like pattern`, `e =~ pattern`.
    Like {
        /// Tested value.
        expr: Box<Expr>,
        /// String (substring) or regex.
        pattern: Box<Expr>,
        /// `not like`.
        negated: bool,
    },
    /// `e [not] in [...]`.
    In {
        /// Tested value.
        expr: Box<Expr>,
        /// Candidates.
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
    },
    /// `name(args)`; the name lower-cased.
    Call {
        /// Function name, lower case.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `e.key` / `e[index]` on a computed value (`jsonParse(x).key`).
    Access(Box<Expr>, String),
}
