//! Odoo domains: prefix notation (`&`, `|`, `!`, implicit AND), compiled once per request into
//! a predicate tree over typed columns, then evaluated per row.
//!
//! The version profile decides datetime comparisons: Odoo 19 compares at whole seconds (the
//! stored microseconds are ignored: `= '13:35:06'` matches `13:35:06.329846`, `>` does not);
//! 16/17/18 compare the stored value with the string read as `.000000`.

use crate::clock::{parse_dt, MICROS};
use crate::errors::{OResult, OdooError};
use crate::json::{py_repr, py_repr_str};
use crate::schema::{FType, FieldDef, ModelDef, Schema, Storage};
use crate::store::{Column, Store, Table, NO_DT, NO_SEL};
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn test(self, o: Ordering) -> bool {
        match self {
            Cmp::Eq => o == Ordering::Equal,
            Cmp::Ne => o != Ordering::Equal,
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Ge => o != Ordering::Less,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Le => o != Ordering::Greater,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    C(Cmp),
    In,
    NotIn,
    Like,
    ILike,
    NotLike,
    NotILike,
    EqLike,
    EqILike,
    ChildOf,
    ParentOf,
}

fn parse_op(s: &str) -> Option<Op> {
    Some(match s.to_ascii_lowercase().as_str() {
        "=" | "==" => Op::C(Cmp::Eq),
        "!=" | "<>" => Op::C(Cmp::Ne),
        ">" => Op::C(Cmp::Gt),
        ">=" => Op::C(Cmp::Ge),
        "<" => Op::C(Cmp::Lt),
        "<=" => Op::C(Cmp::Le),
        "in" => Op::In,
        "not in" => Op::NotIn,
        "like" => Op::Like,
        "ilike" => Op::ILike,
        "not like" => Op::NotLike,
        "not ilike" => Op::NotILike,
        "=like" => Op::EqLike,
        "=ilike" => Op::EqILike,
        "child_of" => Op::ChildOf,
        "parent_of" => Op::ParentOf,
        _ => return None,
    })
}

/// A SQL LIKE pattern (`%`, `_`, backslash escapes).
#[derive(Clone, Debug)]
pub struct Pattern {
    toks: Vec<Tok>,
    ci: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ch(char),
    One,
    Any,
}

impl Pattern {
    fn new(p: &str, ci: bool, wrap: bool) -> Pattern {
        let mut toks = Vec::new();
        if wrap {
            toks.push(Tok::Any);
        }
        let mut it = p.chars();
        while let Some(c) = it.next() {
            toks.push(match c {
                '%' => Tok::Any,
                '_' => Tok::One,
                '\\' => Tok::Ch(it.next().unwrap_or('\\')),
                c => Tok::Ch(if ci { lower(c) } else { c }),
            });
        }
        if wrap {
            toks.push(Tok::Any);
        }
        Pattern { toks, ci }
    }

    pub fn matches(&self, s: &str) -> bool {
        let chars: Vec<char> = if self.ci { s.chars().map(lower).collect() } else { s.chars().collect() };
        // Classic wildcard matching with single-star backtracking: linear in practice.
        let (mut p, mut i) = (0usize, 0usize);
        let (mut star, mut mark) = (usize::MAX, 0usize);
        while i < chars.len() {
            if p < self.toks.len() && (self.toks[p] == Tok::One || self.toks[p] == Tok::Ch(chars[i])) {
                p += 1;
                i += 1;
            } else if p < self.toks.len() && self.toks[p] == Tok::Any {
                star = p;
                mark = i;
                p += 1;
            } else if star != usize::MAX {
                p = star + 1;
                mark += 1;
                i = mark;
            } else {
                return false;
            }
        }
        while p < self.toks.len() && self.toks[p] == Tok::Any {
            p += 1;
        }
        p == self.toks.len()
    }
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// One compiled condition. `nulls` says whether an empty value (false) satisfies it: Odoo adds
/// `OR col IS NULL` to negative operators (`!=`, `not in`, `not like`).
#[derive(Clone, Debug)]
pub enum Pred {
    Id(Cmp, i64),
    IdIn(Vec<u32>, bool),
    Int(usize, Cmp, i64),
    IntIn(usize, Vec<i64>, bool),
    Float(usize, Cmp, f64),
    FloatIn(usize, Vec<f64>, bool),
    /// Boolean equality; a NULL boolean reads as false in Odoo.
    Bool(usize, bool),
    StrCmp(usize, Cmp, String),
    StrIn(usize, Vec<String>, bool, bool),
    StrLike(usize, Pattern, bool),
    /// `= False` (true) / `!= False` (false) on a char/selection/datetime/m2o field.
    Empty(usize, bool),
    SelIn(usize, Vec<u8>, bool, bool),
    SelCmp(usize, Cmp, String),
    M2oIn(usize, Vec<u32>, bool, bool),
    M2oCmp(usize, Cmp, i64),
    /// x2many contains any of (ids), or is empty (has_false); negated.
    IdsAny(usize, Vec<u32>, bool, bool),
    Dt(usize, Cmp, i64),
    DtIn(usize, Vec<i64>, bool, bool),
    DisplayLike(Pattern, bool),
    DisplayCmp(Cmp, String),
    DisplayIn(Vec<String>, bool),
}

#[derive(Clone, Debug)]
pub enum Node {
    True,
    False,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf(Pred),
}

pub struct Compiler<'a> {
    pub schema: &'a Schema,
    pub store: &'a Store,
    pub v19: bool,
}

fn term_repr(items: &[Value]) -> String {
    format!("({})", items.iter().map(py_repr).collect::<Vec<_>>().join(", "))
}

fn invalid_domain(v: &Value) -> OdooError {
    OdooError::value(format!("Invalid domain: {}", py_repr(v)))
}

impl<'a> Compiler<'a> {
    /// Compiles a domain (JSON array). `Null` means the empty domain.
    pub fn compile(&self, model: usize, domain: &Value) -> OResult<Node> {
        let items = match domain {
            Value::Null => return Ok(Node::True),
            Value::Array(a) => a,
            Value::Bool(false) => return Ok(Node::True),
            _ => return Err(invalid_domain(domain)),
        };
        let mut pos = 0;
        let mut nodes = Vec::new();
        while pos < items.len() {
            nodes.push(self.parse_expr(model, items, &mut pos, domain)?);
        }
        Ok(match nodes.len() {
            0 => Node::True,
            1 => nodes.pop().unwrap_or(Node::True),
            _ => Node::And(nodes),
        })
    }

    fn parse_expr(&self, model: usize, items: &[Value], pos: &mut usize, whole: &Value) -> OResult<Node> {
        let item = items.get(*pos).ok_or_else(|| invalid_domain(whole))?;
        *pos += 1;
        match item {
            Value::String(s) if s == "&" || s == "|" => {
                let a = self.parse_expr(model, items, pos, whole)?;
                let b = self.parse_expr(model, items, pos, whole)?;
                Ok(if s == "&" { Node::And(vec![a, b]) } else { Node::Or(vec![a, b]) })
            }
            Value::String(s) if s == "!" => Ok(Node::Not(Box::new(self.parse_expr(model, items, pos, whole)?))),
            Value::Array(term) if term.len() == 3 => self.leaf(model, term),
            Value::Bool(true) => Ok(Node::True),
            Value::Bool(false) => Ok(Node::False),
            _ => Err(OdooError::value(format!("Invalid domain term {}", py_repr(item)))),
        }
    }

    fn leaf(&self, model: usize, term: &[Value]) -> OResult<Node> {
        let cond = || format!("condition {}", term_repr(term));
        let op_s = term[1].as_str().unwrap_or("");
        let op = parse_op(op_s).ok_or_else(|| OdooError::value(format!("Invalid operator in {}", cond())))?;
        // TRUE_LEAF (1, '=', 1) and FALSE_LEAF (0, '=', 1)
        if let Some(n) = term[0].as_i64() {
            return Ok(if n == 1 { Node::True } else { Node::False });
        }
        let path = term[0]
            .as_str()
            .ok_or_else(|| OdooError::value(format!("Invalid field {} in {}", py_repr(&term[0]), cond())))?;
        let pred = self.path_pred(model, path, op, &term[2], &cond)?;
        Ok(pred)
    }

    fn unknown_field(&self, model: usize, fname: &str, cond: &dyn Fn() -> String) -> OdooError {
        OdooError::value(format!("Invalid field {}.{} in {}", self.schema.get(model).name, fname, cond()))
    }

    fn path_pred(&self, model: usize, path: &str, op: Op, val: &Value, cond: &dyn Fn() -> String) -> OResult<Node> {
        let def = self.schema.get(model);
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let fi = def.field(head).ok_or_else(|| self.unknown_field(model, head, cond))?;
        let f = &def.fields[fi];
        if let Some(rest) = rest {
            // Traverse a relation: match the related records, then test membership.
            let (Some(rel), Some(col)) = (f.rel_model, f.col()) else {
                return Err(self.unknown_field(model, path, cond));
            };
            let sub = self.path_pred(rel, rest, op, val, cond)?;
            let ids = self.matching_ids(rel, &sub);
            return Ok(Node::Leaf(if f.ftype == FType::Many2one {
                Pred::M2oIn(col, ids, false, false)
            } else {
                Pred::IdsAny(col, ids, false, false)
            }));
        }
        self.field_pred(model, fi, op, val, cond).map(Node::Leaf)
    }

    /// Ids of `model` rows matching `node`, sorted (archived records included, as in Odoo's
    /// relational sub-searches).
    fn matching_ids(&self, model: usize, node: &Node) -> Vec<u32> {
        let t = &self.store.tables[model];
        let ev = Eval { schema: self.schema, store: self.store, v19: self.v19, model };
        (0..t.len()).filter(|&r| ev.node(t, node, r)).map(|r| t.ids[r]).collect()
    }

    /// Ids of `rel` rows whose display name matches `op val` (Odoo's name_search on m2o).
    fn name_search_ids(&self, rel: usize, op: Op, val: &Value, cond: &dyn Fn() -> String) -> OResult<Vec<u32>> {
        let def = self.schema.get(rel);
        let di = def.field("display_name").unwrap_or(0);
        let p = self.field_pred(rel, di, op, val, cond)?;
        Ok(self.matching_ids(rel, &Node::Leaf(p)))
    }

    fn hierarchy_ids(&self, rel: usize, seeds: &[u32], down: bool) -> Vec<u32> {
        let def = self.schema.get(rel);
        let Some(pcol) = def.parent_field().and_then(|p| def.fields[p].col()) else {
            let mut s = seeds.to_vec();
            s.sort_unstable();
            return s;
        };
        let t = &self.store.tables[rel];
        let mut set: Vec<u32> = seeds.iter().copied().filter(|&id| t.row_of(id).is_some()).collect();
        loop {
            let before = set.len();
            for r in 0..t.len() {
                let (id, parent) = (t.ids[r], t.m2o_at(pcol, r));
                if down && parent != 0 && set.contains(&parent) && !set.contains(&id) {
                    set.push(id);
                }
                if !down && set.contains(&id) && parent != 0 && !set.contains(&parent) {
                    set.push(parent);
                }
            }
            if set.len() == before {
                break;
            }
        }
        set.sort_unstable();
        set
    }

    /// The predicate of one condition `[field, op, val]` on field `fi` of `model`: the operand
    /// is read once (`Term`), then each kind of field has its own rules.
    fn field_pred(&self, model: usize, fi: usize, op: Op, val: &Value, cond: &dyn Fn() -> String) -> OResult<Pred> {
        let def: &ModelDef = self.schema.get(model);
        let f = &def.fields[fi];
        let t = Term::new(op, val);
        match f.storage {
            Storage::DisplayName => return display_pred(&t, cond),
            Storage::Id => return self.id_pred(model, &t, cond),
            _ => {}
        }
        let col = f.col().unwrap_or(0);
        match f.ftype {
            FType::Integer => int_pred(col, &t, cond),
            FType::Float | FType::Monetary => float_pred(col, &t, cond),
            FType::Boolean => bool_pred(col, &t, cond),
            FType::Char | FType::Text => str_pred(col, &t, cond),
            FType::Selection => sel_pred(f, col, &t, cond),
            FType::Many2one => self.m2o_pred(f, col, &t, cond),
            FType::One2many | FType::Many2many => self.x2many_pred(f, col, &t, cond),
            FType::Datetime => dt_pred(col, &t, cond),
        }
    }

    /// `id`: compared as a number, a set of ids, a hierarchy; other operators (`like`, ...)
    /// search the display name, as Odoo does.
    fn id_pred(&self, model: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
        let (op, val) = (t.op, t.val);
        Ok(match op {
            Op::C(c) if !t.is_false => Pred::Id(c, to_int(val, cond)?),
            Op::C(Cmp::Eq) => Pred::IdIn(Vec::new(), false),
            Op::C(Cmp::Ne) => Pred::IdIn(Vec::new(), true),
            _ if t.set_op => Pred::IdIn(sorted_u32(&t.non_false(), cond)?, t.negate),
            Op::ChildOf | Op::ParentOf => {
                let seeds = seed_ids(val, cond)?;
                Pred::IdIn(self.hierarchy_ids(model, &seeds, op == Op::ChildOf), false)
            }
            _ => {
                let di = self.schema.get(model).field("display_name").unwrap_or(0);
                return self.field_pred(model, di, op, val, cond);
            }
        })
    }

    /// A many2one: empty, ids, display names (a name search on the target), a hierarchy.
    fn m2o_pred(&self, f: &FieldDef, col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
        let (op, val, is_false) = (t.op, t.val, t.is_false);
        let rel = f.rel_model;
        if let (Some((_, _, neg)), Some(rel)) = (t.like_op, rel) {
            let pos_op = match op {
                Op::NotLike => Op::Like,
                Op::NotILike => Op::ILike,
                o => o,
            };
            return Ok(Pred::M2oIn(col, self.name_search_ids(rel, pos_op, val, cond)?, neg, neg));
        }
        Ok(match op {
            Op::C(Cmp::Eq) if is_false => Pred::Empty(col, true),
            Op::C(Cmp::Ne) if is_false => Pred::Empty(col, false),
            Op::C(c @ (Cmp::Eq | Cmp::Ne)) if val.is_string() => {
                let rel = rel.ok_or_else(|| OdooError::value(format!("Invalid value in {}", cond())))?;
                let ids = self.name_search_ids(rel, Op::C(Cmp::Eq), val, cond)?;
                let neg = c == Cmp::Ne;
                Pred::M2oIn(col, ids, neg, neg)
            }
            Op::C(Cmp::Eq) => Pred::M2oIn(col, vec![to_int(val, cond)? as u32], false, false),
            Op::C(Cmp::Ne) => Pred::M2oIn(col, vec![to_int(val, cond)? as u32], true, true),
            Op::C(c) => Pred::M2oCmp(col, c, to_int(val, cond)?),
            _ if t.set_op => {
                let mut ids = Vec::new();
                for v in &t.non_false() {
                    match (v, rel) {
                        (Value::String(_), Some(rel)) => {
                            ids.extend(self.name_search_ids(rel, Op::C(Cmp::Eq), v, cond)?)
                        }
                        _ => ids.push(to_int(v, cond)? as u32),
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                Pred::M2oIn(col, ids, t.has_false != t.negate, t.negate)
            }
            Op::ChildOf | Op::ParentOf => {
                let rel = rel.ok_or_else(|| OdooError::value(format!("Invalid value in {}", cond())))?;
                let seeds = seed_ids(val, cond)?;
                Pred::M2oIn(col, self.hierarchy_ids(rel, &seeds, op == Op::ChildOf), false, false)
            }
            _ => return Err(OdooError::value(format!("Invalid operator in {}", cond()))),
        })
    }

    /// A one2many or many2many: whether any linked id is in the set (or the set is empty);
    /// other operators name-search the target.
    fn x2many_pred(&self, f: &FieldDef, col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
        let (op, val, is_false) = (t.op, t.val, t.is_false);
        Ok(match op {
            Op::C(Cmp::Eq) if is_false => Pred::IdsAny(col, Vec::new(), true, false),
            Op::C(Cmp::Ne) if is_false => Pred::IdsAny(col, Vec::new(), true, true),
            Op::C(Cmp::Eq) | Op::In => {
                let v: Vec<&Value> = if t.set_op { t.non_false() } else { vec![val] };
                Pred::IdsAny(col, sorted_u32(&v, cond)?, t.has_false, false)
            }
            Op::C(Cmp::Ne) | Op::NotIn => {
                let v: Vec<&Value> = if t.set_op { t.non_false() } else { vec![val] };
                Pred::IdsAny(col, sorted_u32(&v, cond)?, t.has_false, true)
            }
            _ => {
                let rel = f.rel_model.ok_or_else(|| OdooError::value(format!("Invalid value in {}", cond())))?;
                let (pos_op, neg) = match op {
                    Op::NotLike => (Op::Like, true),
                    Op::NotILike => (Op::ILike, true),
                    o => (o, false),
                };
                Pred::IdsAny(col, self.name_search_ids(rel, pos_op, val, cond)?, false, neg)
            }
        })
    }
}

/// A condition's operator and value, with what the predicates of every kind of field ask of
/// them.
struct Term<'v> {
    op: Op,
    val: &'v Value,
    /// The value is `False` / `None`: `=` and `!=` test emptiness.
    is_false: bool,
    /// `in` / `not in`.
    set_op: bool,
    /// `not in`.
    negate: bool,
    /// The members of an `in` / `not in` list (a scalar is accepted as a one-element list, as
    /// Odoo does); empty for other operators.
    members: Vec<Value>,
    /// Whether the members include `False` / `None` (matching empty values).
    has_false: bool,
    /// (case-insensitive, wrapped in `%`, negated) for the like operators.
    like_op: Option<(bool, bool, bool)>,
}

impl<'v> Term<'v> {
    fn new(op: Op, val: &'v Value) -> Term<'v> {
        let is_false = matches!(val, Value::Bool(false) | Value::Null);
        let list: Option<Vec<Value>> = match val {
            Value::Array(a) => Some(a.clone()),
            _ => None,
        };
        let (set_op, negate) = match op {
            Op::In => (true, false),
            Op::NotIn => (true, true),
            _ => (false, false),
        };
        let members: Vec<Value> = if set_op { list.unwrap_or_else(|| vec![val.clone()]) } else { Vec::new() };
        let has_false = members.iter().any(|v| matches!(v, Value::Bool(false) | Value::Null));
        let like_op = match op {
            Op::Like => Some((false, true, false)),
            Op::ILike => Some((true, true, false)),
            Op::NotLike => Some((false, true, true)),
            Op::NotILike => Some((true, true, true)),
            Op::EqLike => Some((false, false, false)),
            Op::EqILike => Some((true, false, false)),
            _ => None,
        };
        Term { op, val, is_false, set_op, negate, members, has_false, like_op }
    }

    /// The members other than `False` / `None`.
    fn non_false(&self) -> Vec<&Value> {
        self.members.iter().filter(|v| !matches!(v, Value::Bool(false) | Value::Null)).collect()
    }

    /// The LIKE pattern of the value and whether the operator negates it.
    fn like(&self, ci: bool, wrap: bool, neg: bool, cond: &dyn Fn() -> String) -> OResult<(Pattern, bool)> {
        let s = scalar_text(self.val)
            .ok_or_else(|| OdooError::value(format!("Invalid value {} in {}", py_repr(self.val), cond())))?;
        Ok((Pattern::new(&s, ci, wrap), neg))
    }
}

/// `display_name` (computed, not stored): like, in, or compared as text.
fn display_pred(t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
    Ok(if let Some((ci, wrap, neg)) = t.like_op {
        let (p, n) = t.like(ci, wrap, neg, cond)?;
        Pred::DisplayLike(p, n)
    } else if t.set_op {
        Pred::DisplayIn(t.non_false().iter().filter_map(|v| scalar_text(v)).collect(), t.negate)
    } else if let Op::C(c) = t.op {
        Pred::DisplayCmp(c, scalar_text(t.val).unwrap_or_default())
    } else {
        return Err(OdooError::value(format!("Invalid operator in {}", cond())));
    })
}

/// An integer: `= False` is `= 0` (Odoo stores no NULL integer here).
fn int_pred(col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
    Ok(match t.op {
        Op::C(Cmp::Eq) if t.is_false => Pred::Int(col, Cmp::Eq, 0),
        Op::C(Cmp::Ne) if t.is_false => Pred::Int(col, Cmp::Ne, 0),
        Op::C(c) => Pred::Int(col, c, to_int(t.val, cond)?),
        _ if t.set_op => {
            Pred::IntIn(col, t.non_false().iter().map(|v| to_int(v, cond)).collect::<OResult<_>>()?, t.negate)
        }
        _ => return Err(OdooError::value(format!("Invalid operator in {}", cond()))),
    })
}

/// A float or monetary: `False` compares as 0.0.
fn float_pred(col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
    Ok(match t.op {
        Op::C(c) if t.is_false => Pred::Float(col, c, 0.0),
        Op::C(c) => Pred::Float(col, c, to_float(t.val, cond)?),
        _ if t.set_op => {
            Pred::FloatIn(col, t.non_false().iter().map(|v| to_float(v, cond)).collect::<OResult<_>>()?, t.negate)
        }
        _ => return Err(OdooError::value(format!("Invalid operator in {}", cond()))),
    })
}

/// A boolean: the value is read for its truth, as Python does.
fn bool_pred(col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
    let truthy = |v: &Value| match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().unwrap_or(0.0) != 0.0,
        Value::String(s) => !s.is_empty(),
        _ => false,
    };
    Ok(match t.op {
        Op::C(Cmp::Eq) => Pred::Bool(col, truthy(t.val)),
        Op::C(Cmp::Ne) => Pred::Bool(col, !truthy(t.val)),
        _ if t.set_op => {
            // Odoo reads a NULL boolean as False, so a set is "true", "false", both or none.
            let (tr, f_) = (t.members.iter().any(truthy), t.members.iter().any(|v| !truthy(v)));
            match (tr, f_) {
                (true, true) => Pred::IdIn(Vec::new(), !t.negate),
                (false, false) => Pred::IdIn(Vec::new(), t.negate),
                _ => Pred::Bool(col, tr != t.negate),
            }
        }
        _ => return Err(OdooError::value(format!("Invalid operator in {}", cond()))),
    })
}

/// A char or text: like patterns, emptiness, equality, comparison, sets.
fn str_pred(col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
    if let Some((ci, wrap, neg)) = t.like_op {
        let (p, n) = t.like(ci, wrap, neg, cond)?;
        return Ok(Pred::StrLike(col, p, n));
    }
    let val = t.val;
    Ok(match t.op {
        Op::C(Cmp::Eq) if t.is_false => Pred::Empty(col, true),
        Op::C(Cmp::Ne) if t.is_false => Pred::Empty(col, false),
        Op::C(Cmp::Eq) => Pred::StrIn(col, vec![scalar_text(val).unwrap_or_default()], false, false),
        Op::C(Cmp::Ne) => Pred::StrIn(col, vec![scalar_text(val).unwrap_or_default()], false, true),
        Op::C(c) => Pred::StrCmp(col, c, scalar_text(val).unwrap_or_default()),
        _ if t.set_op => {
            Pred::StrIn(col, t.non_false().iter().filter_map(|v| scalar_text(v)).collect(), t.has_false, t.negate)
        }
        _ => return Err(OdooError::value(format!("Invalid operator in {}", cond()))),
    })
}

/// A selection: by key (a like pattern matches keys), compared as text.
fn sel_pred(f: &FieldDef, col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
    if let Some((ci, wrap, neg)) = t.like_op {
        let (p, n) = t.like(ci, wrap, neg, cond)?;
        let keys: Vec<u8> =
            f.selection.iter().enumerate().filter(|(_, (k, _))| p.matches(k)).map(|(i, _)| i as u8).collect();
        return Ok(Pred::SelIn(col, keys, false, n));
    }
    let val = t.val;
    let idx = |v: &Value| scalar_text(v).and_then(|s| f.sel_index(&s));
    Ok(match t.op {
        Op::C(Cmp::Eq) if t.is_false => Pred::Empty(col, true),
        Op::C(Cmp::Ne) if t.is_false => Pred::Empty(col, false),
        Op::C(Cmp::Eq) => Pred::SelIn(col, idx(val).into_iter().collect(), false, false),
        Op::C(Cmp::Ne) => Pred::SelIn(col, idx(val).into_iter().collect(), false, true),
        Op::C(c) => Pred::SelCmp(col, c, scalar_text(val).unwrap_or_default()),
        _ if t.set_op => Pred::SelIn(col, t.non_false().iter().filter_map(|v| idx(v)).collect(), t.has_false, t.negate),
        _ => return Err(OdooError::value(format!("Invalid operator in {}", cond()))),
    })
}

/// A datetime: the value must be a datetime (or date) string; no like operators.
fn dt_pred(col: usize, t: &Term, cond: &dyn Fn() -> String) -> OResult<Pred> {
    if t.like_op.is_some() {
        return Err(OdooError::value(format!("Invalid operator in {}", cond())));
    }
    let dt = |v: &Value| -> OResult<i64> {
        let s = v.as_str().ok_or_else(|| bad_dt(v))?;
        parse_dt(s).ok_or_else(|| bad_dt(v))
    };
    Ok(match t.op {
        Op::C(Cmp::Eq) if t.is_false => Pred::Empty(col, true),
        Op::C(Cmp::Ne) if t.is_false => Pred::Empty(col, false),
        Op::C(c) => Pred::Dt(col, c, dt(t.val)?),
        _ if t.set_op => {
            Pred::DtIn(col, t.non_false().iter().map(|v| dt(v)).collect::<OResult<_>>()?, t.has_false, t.negate)
        }
        _ => return Err(OdooError::value(format!("Invalid operator in {}", cond()))),
    })
}

fn bad_dt(v: &Value) -> OdooError {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    OdooError::value(format!("time data {} does not match format '%Y-%m-%d %H:%M:%S'", py_repr_str(&s)))
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        _ => None,
    }
}

fn to_int(v: &Value, cond: &dyn Fn() -> String) -> OResult<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).ok_or_else(|| OdooError::value(cond())),
        Value::Bool(b) => Ok(*b as i64),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
            OdooError::new(
                "psycopg2.errors.InvalidTextRepresentation",
                format!("invalid input syntax for type integer: \"{}\"\n", s),
                500,
            )
        }),
        _ => Err(OdooError::value(format!("Invalid value {} in {}", py_repr(v), cond()))),
    }
}

fn to_float(v: &Value, cond: &dyn Fn() -> String) -> OResult<f64> {
    match v {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => Ok(*b as i64 as f64),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
            OdooError::new(
                "psycopg2.errors.InvalidTextRepresentation",
                format!("invalid input syntax for type double precision: \"{}\"\n", s),
                500,
            )
        }),
        _ => Err(OdooError::value(format!("Invalid value {} in {}", py_repr(v), cond()))),
    }
}

fn sorted_u32(vals: &[&Value], cond: &dyn Fn() -> String) -> OResult<Vec<u32>> {
    let mut out = Vec::with_capacity(vals.len());
    for v in vals {
        let i = to_int(v, cond)?;
        if i > 0 && i <= u32::MAX as i64 {
            out.push(i as u32);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn seed_ids(v: &Value, cond: &dyn Fn() -> String) -> OResult<Vec<u32>> {
    match v {
        Value::Array(a) => sorted_u32(&a.iter().collect::<Vec<_>>(), cond),
        other => sorted_u32(&[other], cond),
    }
}

/// Evaluates compiled nodes on rows of one table.
pub struct Eval<'a> {
    pub schema: &'a Schema,
    pub store: &'a Store,
    pub v19: bool,
    pub model: usize,
}

impl<'a> Eval<'a> {
    pub fn node(&self, t: &Table, n: &Node, r: usize) -> bool {
        match n {
            Node::True => true,
            Node::False => false,
            Node::And(v) => v.iter().all(|x| self.node(t, x, r)),
            Node::Or(v) => v.iter().any(|x| self.node(t, x, r)),
            Node::Not(x) => !self.node(t, x, r),
            Node::Leaf(p) => self.pred(t, p, r),
        }
    }

    fn pred(&self, t: &Table, p: &Pred, r: usize) -> bool {
        match p {
            Pred::Id(c, v) => c.test((t.ids[r] as i64).cmp(v)),
            Pred::IdIn(ids, neg) => ids.binary_search(&t.ids[r]).is_ok() != *neg,
            Pred::Int(col, c, v) => match &t.cols[*col] {
                Column::Int(x) => c.test(x[r].cmp(v)),
                _ => false,
            },
            Pred::IntIn(col, set, neg) => match &t.cols[*col] {
                Column::Int(x) => set.contains(&x[r]) != *neg,
                _ => false,
            },
            Pred::Float(col, c, v) => c.test(t.f64_at(*col, r).partial_cmp(v).unwrap_or(Ordering::Less)),
            Pred::FloatIn(col, set, neg) => set.contains(&t.f64_at(*col, r)) != *neg,
            Pred::Bool(col, b) => t.bool_at(*col, r) == *b,
            Pred::StrCmp(col, c, s) => t.str_at(*col, r).is_some_and(|x| c.test(x.cmp(s.as_str()))),
            Pred::StrIn(col, set, has_false, neg) => match t.str_at(*col, r) {
                Some(x) => set.iter().any(|s| s == x) != *neg,
                None => *has_false != *neg,
            },
            Pred::StrLike(col, pat, neg) => match t.str_at(*col, r) {
                Some(x) => pat.matches(x) != *neg,
                None => *neg,
            },
            Pred::Empty(col, want_empty) => {
                let empty = match &t.cols[*col] {
                    Column::Str(v) => v[r].is_none(),
                    Column::Sel(v) => v[r] == NO_SEL,
                    Column::M2o(v) => v[r] == 0,
                    Column::Dt(v) => v[r] == NO_DT,
                    Column::Ids(v) => v[r].is_empty(),
                    _ => false,
                };
                empty == *want_empty
            }
            Pred::SelIn(col, set, has_false, neg) => {
                let s = t.sel_at(*col, r);
                if s == NO_SEL {
                    *has_false != *neg
                } else {
                    set.contains(&s) != *neg
                }
            }
            Pred::SelCmp(col, c, key) => {
                let s = t.sel_at(*col, r);
                let def = self.schema.get(self.model);
                let f = def.fields.iter().find(|f| f.col() == Some(*col));
                match f.and_then(|f| f.selection.get(s as usize)) {
                    Some((k, _)) => c.test((*k).cmp(key.as_str())),
                    None => false,
                }
            }
            Pred::M2oIn(col, set, null_ok, neg) => {
                let v = t.m2o_at(*col, r);
                if v == 0 {
                    *null_ok
                } else {
                    set.binary_search(&v).is_ok() != *neg
                }
            }
            Pred::M2oCmp(col, c, v) => {
                let x = t.m2o_at(*col, r);
                x != 0 && c.test((x as i64).cmp(v))
            }
            Pred::IdsAny(col, set, empty_ok, neg) => {
                let ids = t.ids_at(*col, r);
                let hit = (ids.is_empty() && *empty_ok) || ids.iter().any(|i| set.binary_search(i).is_ok());
                hit != *neg
            }
            Pred::Dt(col, c, v) => {
                let x = t.dt_at(*col, r);
                x != NO_DT && c.test(self.dt_cmp(x, *v))
            }
            Pred::DtIn(col, set, has_false, neg) => {
                let x = t.dt_at(*col, r);
                if x == NO_DT {
                    *has_false != *neg
                } else {
                    set.iter().any(|v| self.dt_cmp(x, *v) == Ordering::Equal) != *neg
                }
            }
            Pred::DisplayLike(pat, neg) => pat.matches(&self.store.display_row(self.schema, self.model, r)) != *neg,
            Pred::DisplayCmp(c, s) => {
                c.test(self.store.display_row(self.schema, self.model, r).as_str().cmp(s.as_str()))
            }
            Pred::DisplayIn(set, neg) => {
                let d = self.store.display_row(self.schema, self.model, r);
                set.contains(&d) != *neg
            }
        }
    }

    /// The version rule for datetimes (see the module doc).
    #[inline]
    fn dt_cmp(&self, stored: i64, given: i64) -> Ordering {
        if self.v19 {
            stored.div_euclid(MICROS).cmp(&given.div_euclid(MICROS))
        } else {
            stored.cmp(&given)
        }
    }
}

/// Bounds `[lo, hi)` on ids implied by the top-level conjunction (`id > X`, `id <= Y`...), so
/// a scan in id order can start with a binary search instead of at the first row.
pub fn id_bounds(n: &Node) -> (i64, i64) {
    fn apply(p: &Pred, lo: &mut i64, hi: &mut i64) {
        if let Pred::Id(c, v) = p {
            match c {
                Cmp::Gt => *lo = (*lo).max(v.saturating_add(1)),
                Cmp::Ge => *lo = (*lo).max(*v),
                Cmp::Lt => *hi = (*hi).min(*v),
                Cmp::Le => *hi = (*hi).min(v.saturating_add(1)),
                Cmp::Eq => {
                    *lo = (*lo).max(*v);
                    *hi = (*hi).min(v.saturating_add(1));
                }
                Cmp::Ne => {}
            }
        }
    }
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    match n {
        Node::Leaf(p) => apply(p, &mut lo, &mut hi),
        Node::And(v) => {
            for x in v {
                match x {
                    Node::Leaf(p) => apply(p, &mut lo, &mut hi),
                    Node::And(_) => {
                        let (l, h) = id_bounds(x);
                        lo = lo.max(l);
                        hi = hi.min(h);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    (lo, hi)
}

/// Whether any leaf of the raw domain names `field` (Odoo then skips the implicit active filter).
pub fn mentions(domain: &Value, field: &str) -> bool {
    match domain {
        Value::Array(items) => items.iter().any(|it| match it {
            Value::Array(term) if term.len() == 3 => term[0].as_str() == Some(field),
            _ => false,
        }),
        _ => false,
    }
}
