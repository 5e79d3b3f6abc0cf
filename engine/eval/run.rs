//! Evaluate compiled checks over a domain's facts, producing findings; apply waivers.

use std::cell::{Cell, OnceCell};
use std::fmt::Write as _;
use std::hash::Hasher as _;
use std::sync::{Arc, OnceLock};

use crate::eval::classify::{self, BoundSet, Classes};
use crate::eval::domain::Domain;
use crate::eval::schema::{self, DomainId};
use crate::eval::value::Value;
use crate::fasthash::{FastMap, FxHasher};
use crate::finding::{Finding, WaiverState};
use crate::lang::ast::{BinOp, Severity};
use crate::lang::compile::{CExpr, CPart, CheckDef, Const, Policy, Step};
use crate::lang::glob;

/// A policy bound to one domain's facts: sets resolved, classifications computed once.
pub struct Engine<'p, 'd> {
    pub policy: &'p Policy,
    pub domain: &'d dyn Domain,
    pub sets: Vec<BoundSet<'d>>,
    pub classes: Vec<Classes>,
    /// Relations and set items as values, built once per run.
    relations: Vec<OnceLock<Arc<Vec<Value<'d>>>>>,
    set_items: Vec<Arc<Vec<Value<'d>>>>,
    /// YYYY-MM-DD, for `today()` (set by the front door; tests pin it).
    pub today: Arc<str>,
    /// The most steps (items bound, conditions evaluated) one check may take before it is
    /// stopped with a diagnostic naming it: a runaway rule ends, it never hangs.
    pub step_budget: u64,
}

/// The default step budget of a check: far above what a real check takes (the largest of
/// the project's rules takes 20,635 steps on the 813-recipe corpus, so about 2.5 million at
/// 100,000 recipes), far below what an accidental cross product asks for (813^3 = 537
/// million on the corpus). A second or two of evaluation, a few hundred MB of findings.
pub const STEP_BUDGET: u64 = 50_000_000;

/// What a finding costs in steps: it is kept in memory and rendered, so a rule that
/// reports every combination of a cross product runs out of budget, not of memory.
const FINDING_STEPS: u64 = 100;

/// The id of the finding a check stopped by its step budget gives (a rule problem: exit 2).
pub const BUDGET_CHECK: &str = "step-budget";

/// The state of one check's evaluation: its join indexes, built on first use, and its steps.
struct RunState<'d> {
    indexes: Vec<OnceCell<Option<JoinIndex<'d>>>>,
    steps: Cell<u64>,
    budget: u64,
    exceeded: Cell<bool>,
}

impl RunState<'_> {
    /// Count one step; false once the budget is spent.
    fn tick(&self) -> bool {
        self.spend(1)
    }
    fn spend(&self, steps: u64) -> bool {
        let n = self.steps.get().saturating_add(steps);
        self.steps.set(n);
        if n > self.budget {
            self.exceeded.set(true);
        }
        !self.exceeded.get()
    }
}

/// A join's generator, its items bucketed by the hash of their keys.
struct JoinIndex<'d> {
    items: Arc<Vec<Value<'d>>>,
    buckets: FastMap<u64, Vec<u32>>,
}

/// Hash values consistently with the engine's equality (strings by content, records by
/// identity, `none` equal only to itself); false for a value whose equality crosses kinds
/// (a tier equals the string naming it), which the index cannot answer.
fn hash_values<'v>(values: impl Iterator<Item = Value<'v>>) -> Option<u64> {
    let mut h = FxHasher::default();
    for v in values {
        match v {
            Value::None => h.write_u8(0),
            Value::Bool(b) => {
                h.write_u8(1);
                h.write_u8(u8::from(b));
            }
            Value::Int(n) => {
                h.write_u8(2);
                h.write_i64(n);
            }
            Value::Str(s) => {
                h.write_u8(3);
                h.write(s.as_bytes());
                h.write_u8(0xff);
            }
            Value::Owned(s) => {
                h.write_u8(3);
                h.write(s.as_bytes());
                h.write_u8(0xff);
            }
            Value::Rec(r) => {
                h.write_u8(4);
                h.write_u16(r.kind.0);
                h.write_u32(r.idx);
            }
            _ => return None,
        }
    }
    Some(h.finish())
}

impl<'p: 'd, 'd> Engine<'p, 'd> {
    pub fn new(policy: &'p Policy, domain: &'d dyn Domain) -> Engine<'p, 'd> {
        let sets: Vec<BoundSet<'d>> = policy
            .sets
            .iter()
            .map(|s| BoundSet::bind(s, s.from_builder.and_then(|b| domain.builder_list(b))))
            .collect();
        let classes = match domain.classify_input() {
            Some(input) => policy.classifications.iter().map(|cl| classify::classify(cl, &sets, &input)).collect(),
            None => vec![],
        };
        let set_items = sets.iter().map(|b| Arc::new(b.items.iter().map(|(n, _)| Value::Str(n)).collect())).collect();
        let today = Arc::from(crate::check::today().as_str());
        let relations = (0..schema::RELATIONS.len()).map(|_| OnceLock::new()).collect();
        let step_budget = std::env::var("IGOS_STEP_BUDGET").ok().and_then(|b| b.parse().ok()).unwrap_or(STEP_BUDGET);
        Engine { policy, domain, sets, classes, relations, set_items, today, step_budget }
    }

    /// Run every check of this domain; findings come out in declaration order. Checks
    /// are independent, so they are shared out over the cores (the facts, sets and
    /// classification are read-only; the relation cache fills once, thread-safely).
    /// `spare`: room to leave for the findings the caller adds (waiver advisories...).
    pub fn run_all(&mut self, spare: usize) -> Vec<Finding> {
        let mine: Vec<usize> = (0..self.policy.checks.len()).filter(|&i| self.policy.checks[i].domain == self.domain.id()).collect();
        let profile = std::env::var("IGOS_TIMINGS").as_deref() == Ok("checks");
        let workers = crate::parallel::cores().min(mine.len().max(1));
        let run = |i: usize| {
            let t = std::time::Instant::now();
            let found = self.run_check(i);
            if profile {
                eprintln!("  {:>8.3} ms  {}", t.elapsed().as_secs_f64() * 1e3, self.policy.checks[i].id);
            }
            found
        };
        let mut results: Vec<Vec<Finding>> = if workers <= 1 {
            mine.iter().map(|&i| run(i)).collect()
        } else {
            // Each worker takes the next check not yet taken: costs differ by 100x.
            let next = std::sync::atomic::AtomicUsize::new(0);
            let slots: Vec<std::sync::Mutex<Vec<Finding>>> = mine.iter().map(|_| Default::default()).collect();
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(|| loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = mine.get(k) else { break };
                        let found = run(i);
                        if let Ok(mut slot) = slots[k].lock() {
                            *slot = found;
                        }
                    });
                }
            });
            slots.into_iter().map(|m| m.into_inner().unwrap_or_default()).collect()
        };
        // Sized once: tens of thousands of findings on a large tree, each a few hundred bytes.
        let mut all = Vec::with_capacity(results.iter().map(Vec::len).sum::<usize>() + spare);
        for found in results.drain(..) {
            all.extend(found);
        }
        all
    }

    pub fn run_check(&self, index: usize) -> Vec<Finding> {
        let policy = self.policy;
        let check = &policy.checks[index];
        let gate = policy.gate_of(index).map(|g| g.id.clone());
        let mut env: Vec<Value<'d>> = vec![Value::None; check.slots];
        let mut out = vec![];
        let run = RunState {
            indexes: check.steps.iter().map(|_| OnceCell::new()).collect(),
            steps: Cell::new(0),
            budget: self.step_budget,
            exceeded: Cell::new(false),
        };
        self.steps(check, 0, &mut env, &gate, &mut out, &run);
        if std::env::var("IGOS_TIMINGS").as_deref() == Ok("steps") {
            eprintln!("  {:>12} steps  {}", run.steps.get(), check.id);
        }
        if run.exceeded.get() {
            return vec![self.budget_finding(check)];
        }
        out
    }

    /// The diagnostic of a check stopped by its step budget (its partial findings dropped).
    fn budget_finding(&self, check: &CheckDef) -> Finding {
        Finding {
            check: BUDGET_CHECK.into(),
            severity: Severity::Halt,
            gate: None,
            subject: check.id.clone(),
            object: None,
            message: format!(
                "check `{}` was stopped after {} steps: its generators multiply into more combinations than igos evaluates",
                check.id, self.step_budget
            ),
            help: Some(
                "range over fields (`for p in packages, d in p.deps`) or relate the generators by equalities (`where d.name == q.name`, evaluated with an index), and filter early; IGOS_STEP_BUDGET sets the budget"
                    .into(),
            ),
            at: Some(check.span),
            rule: None,
            because: None,
            waiver: WaiverState::None,
        }
    }

    /// The items of a generator's source.
    fn items(&self, e: &CExpr, env: &[Value<'d>]) -> Option<Arc<Vec<Value<'d>>>> {
        match self.eval(e, env) {
            Value::List(items) => Some(items),
            Value::Set(s) => self.set_items.get(s).cloned(),
            _ => None,
        }
    }

    /// Index a join's items by their keys; None when a key cannot be hashed (then the
    /// join scans, as a plain generator does).
    fn index(&self, slot: usize, source: &CExpr, keys: &[CExpr], env: &[Value<'d>], run: &RunState) -> Option<JoinIndex<'d>> {
        let items = self.items(source, env)?;
        let mut scratch = env.to_vec();
        let mut buckets: FastMap<u64, Vec<u32>> = FastMap::default();
        for (i, item) in items.iter().enumerate() {
            if !run.tick() {
                return None;
            }
            scratch[slot] = item.clone();
            let h = hash_values(keys.iter().map(|k| self.eval(k, &scratch)))?;
            buckets.entry(h).or_default().push(i as u32);
        }
        Some(JoinIndex { items, buckets })
    }

    #[allow(clippy::too_many_arguments)]
    fn steps(&self, check: &CheckDef, at: usize, env: &mut Vec<Value<'d>>, gate: &Option<String>, out: &mut Vec<Finding>, run: &RunState<'d>) {
        if run.exceeded.get() {
            return;
        }
        let Some(step) = check.steps.get(at) else {
            if run.spend(FINDING_STEPS) {
                out.push(self.finding(check, env, gate));
            }
            return;
        };
        match step {
            Step::For(slot, e) => {
                let Some(items) = self.items(e, env) else { return };
                for item in items.iter() {
                    if !run.tick() {
                        return;
                    }
                    env[*slot] = item.clone();
                    self.steps(check, at + 1, env, gate, out, run);
                }
            }
            Step::Join { slot, source, keys, probes } => {
                let index = run.indexes.get(at).map(|cell| cell.get_or_init(|| self.index(*slot, source, keys, env, run)));
                let probe = hash_values(probes.iter().map(|p| self.eval(p, env)));
                match (index, probe) {
                    (Some(Some(ix)), Some(h)) => {
                        let Some(bucket) = ix.buckets.get(&h) else { return };
                        for &i in bucket {
                            if !run.tick() {
                                return;
                            }
                            env[*slot] = ix.items[i as usize].clone();
                            self.steps(check, at + 1, env, gate, out, run);
                        }
                    }
                    // No index (a key that cannot be hashed): every item, as `for` does.
                    _ => {
                        let Some(items) = self.items(source, env) else { return };
                        for item in items.iter() {
                            if !run.tick() {
                                return;
                            }
                            env[*slot] = item.clone();
                            self.steps(check, at + 1, env, gate, out, run);
                        }
                    }
                }
            }
            Step::Where(e) => {
                if run.tick() && self.eval(e, env).truthy() {
                    self.steps(check, at + 1, env, gate, out, run);
                }
            }
            Step::Let(slot, e) => {
                if run.tick() {
                    env[*slot] = self.eval(e, env);
                    self.steps(check, at + 1, env, gate, out, run);
                }
            }
        }
    }

    fn finding(&self, check: &CheckDef, env: &[Value<'d>], gate: &Option<String>) -> Finding {
        let first = check.steps.iter().find_map(|s| match s {
            Step::For(slot, _) | Step::Join { slot, .. } => Some(*slot),
            _ => None,
        });
        let subject = match (&check.subject, first) {
            (Some(e), _) => {
                let v = self.eval(e, env);
                self.render(&v)
            }
            (None, Some(slot)) => self.render(&env[slot]),
            _ => String::new(),
        };
        let object = check.object.as_ref().map(|e| {
            let v = self.eval(e, env);
            self.render(&v)
        });
        let at_value = match (&check.at, first) {
            (Some(e), _) => self.eval(e, env),
            (None, Some(slot)) => env[slot].clone(),
            _ => Value::None,
        };
        let at = match at_value {
            Value::Loc(s) => Some(s),
            Value::Rec(r) => self.domain.location(r),
            _ => None,
        };
        let because = match check.because.as_ref().map(|e| self.eval(e, env)) {
            Some(Value::Tier(_, why)) => why,
            Some(Value::Loc(s)) => Some(s),
            Some(Value::Rec(r)) => self.domain.location(r),
            _ => None,
        };
        Finding {
            check: check.id.clone(),
            severity: check.severity,
            gate: gate.clone(),
            subject,
            object,
            message: self.template(&check.message, env),
            help: check.help.as_ref().map(|h| self.template(h, env)),
            at,
            rule: Some(check.span),
            because,
            waiver: WaiverState::None,
        }
    }

    fn template(&self, parts: &[CPart], env: &[Value<'d>]) -> String {
        let mut s = String::new();
        for p in parts {
            match p {
                CPart::Text(t) => s.push_str(t),
                CPart::Hole(e) => {
                    let v = self.eval(e, env);
                    s.push_str(&self.render(&v));
                }
            }
        }
        s
    }

    /// How a value reads in a message.
    pub fn render(&self, v: &Value) -> String {
        match v {
            Value::None => "none".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Str(s) => s.to_string(),
            Value::Owned(s) => s.to_string(),
            Value::Tier(t, _) => self.policy.tiers.name(*t).to_string(),
            Value::Loc(_) => "(location)".into(),
            Value::Rec(r) => self.domain.display(*r),
            Value::Set(s) => self.policy.sets.get(*s).map(|s| s.name.clone()).unwrap_or_default(),
            Value::List(items) => {
                let mut out = String::new();
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{}", self.render(it));
                }
                out
            }
        }
    }

    pub fn eval(&self, e: &CExpr, env: &[Value<'d>]) -> Value<'d> {
        match e {
            CExpr::Const(c) => match c {
                Const::None => Value::None,
                Const::Bool(b) => Value::Bool(*b),
                Const::Int(n) => Value::Int(*n),
                Const::Str(s) => Value::Owned(s.clone()),
                Const::Tier(t) => Value::Tier(*t, None),
            },
            CExpr::Var(slot) => env.get(*slot).cloned().unwrap_or(Value::None),
            CExpr::Set(s) => Value::Set(*s),
            CExpr::Relation(r) => {
                let domain = self.domain;
                match self.relations.get(*r) {
                    Some(cell) => Value::List(cell.get_or_init(|| Arc::new(domain.relation(*r))).clone()),
                    None => Value::List(Arc::new(domain.relation(*r))),
                }
            }
            CExpr::List(items) => Value::list(items.iter().map(|i| self.eval(i, env)).collect()),
            CExpr::Field(recv, kind, field) => match self.eval(recv, env) {
                Value::Rec(r) if r.kind == *kind => self.domain.field(r, *field),
                _ => Value::None,
            },
            CExpr::Classify(cl, arg) => match self.eval(arg, env) {
                Value::Rec(r) if r.kind == schema::PACKAGE => match self.classes.get(*cl) {
                    Some(c) => Value::Tier(
                        c.tier.get(r.idx as usize).copied().flatten(),
                        c.because(r.idx as usize),
                    ),
                    None => Value::None,
                },
                _ => Value::None,
            },
            // Arguments on the stack: a call runs per package, per dependency... (a vector
            // per call was a tenth of the checks' instructions).
            CExpr::Call(f, args) => match args.as_slice() {
                [] => self.call(*f, &[]),
                [a] => self.call(*f, &[self.eval(a, env)]),
                [a, b] => self.call(*f, &[self.eval(a, env), self.eval(b, env)]),
                [a, b, c] => self.call(*f, &[self.eval(a, env), self.eval(b, env), self.eval(c, env)]),
                more => self.call(*f, &more.iter().map(|a| self.eval(a, env)).collect::<Vec<_>>()),
            },
            CExpr::Not(inner) => Value::Bool(!self.eval(inner, env).truthy()),
            CExpr::Bin(op, l, r) => match op {
                BinOp::And => Value::Bool(self.eval(l, env).truthy() && self.eval(r, env).truthy()),
                BinOp::Or => Value::Bool(self.eval(l, env).truthy() || self.eval(r, env).truthy()),
                _ => {
                    let a = self.eval(l, env);
                    let b = self.eval(r, env);
                    Value::Bool(self.binary(*op, &a, &b))
                }
            },
        }
    }

    fn tier_of(&self, v: &Value) -> Option<Option<u16>> {
        match v {
            Value::Tier(t, _) => Some(*t),
            Value::Str(_) | Value::Owned(_) => v.str().map(|s| if s == "unclear" { None } else { self.policy.tiers.index(s) }),
            _ => None,
        }
    }

    fn equal(&self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::None, Value::None) => true,
            (Value::None, _) | (_, Value::None) => false,
            (Value::Tier(..), _) | (_, Value::Tier(..)) => match (self.tier_of(a), self.tier_of(b)) {
                (Some(x), Some(y)) => {
                    // A string naming no tier equals no tier.
                    let known = |v: &Value, t: Option<u16>| t.is_some() || matches!(v, Value::Tier(..)) || v.str() == Some("unclear");
                    x == y && known(a, x) && known(b, y)
                }
                _ => false,
            },
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Rec(x), Value::Rec(y)) => x == y,
            _ => match (a.str(), b.str()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }

    fn binary(&self, op: BinOp, a: &Value, b: &Value) -> bool {
        match op {
            BinOp::Eq => self.equal(a, b),
            BinOp::Ne => !self.equal(a, b),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (a, b) {
                    (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
                    (Value::Str(_) | Value::Owned(_), Value::Str(_) | Value::Owned(_)) => a.str().zip(b.str()).map(|(x, y)| x.cmp(y)),
                    _ => None,
                };
                if let Some(o) = ord {
                    return match op {
                        BinOp::Lt => o.is_lt(),
                        BinOp::Le => o.is_le(),
                        BinOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    };
                }
                let (Some(Some(x)), Some(Some(y))) = (self.tier_of(a), self.tier_of(b)) else { return false };
                let t = &self.policy.tiers;
                match op {
                    BinOp::Le => t.le(x, y),
                    BinOp::Lt => x != y && t.le(x, y),
                    BinOp::Ge => t.le(y, x),
                    _ => x != y && t.le(y, x),
                }
            }
            BinOp::In | BinOp::NotIn => {
                let found = match b {
                    Value::Set(s) => a.str().map(|n| self.sets.get(*s).and_then(|set| set.find(n)).is_some()).unwrap_or(false),
                    Value::List(items) => items.iter().any(|i| self.equal(a, i)),
                    _ => false,
                };
                found == (op == BinOp::In)
            }
            BinOp::Glob => {
                let Some(name) = a.str() else { return false };
                match b {
                    Value::List(pats) => pats.iter().any(|p| p.str().map(|p| glob::matches(p, name)).unwrap_or(false)),
                    other => other.str().map(|p| glob::matches(p, name)).unwrap_or(false),
                }
            }
            BinOp::And | BinOp::Or => false,
        }
    }

    fn call(&self, f: usize, args: &[Value<'d>]) -> Value<'d> {
        let def = &schema::FUNCTIONS[f];
        let s = |i: usize| args.get(i).and_then(|v| v.str());
        match def.name {
            "count" => match args.first() {
                Some(Value::List(l)) => Value::Int(l.len() as i64),
                _ => Value::Int(0),
            },
            "exists" => Value::Bool(!args.first().map(Value::is_none).unwrap_or(true)),
            "len" => s(0).map(|x| Value::Int(x.chars().count() as i64)).unwrap_or(Value::None),
            "is_hex" => {
                Value::Bool(s(0).map(|x| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))).unwrap_or(false))
            }
            "starts_with" => Value::Bool(matches!((s(0), s(1)), (Some(x), Some(p)) if x.starts_with(p))),
            "ends_with" => Value::Bool(matches!((s(0), s(1)), (Some(x), Some(p)) if x.ends_with(p))),
            "contains" => Value::Bool(matches!((s(0), s(1)), (Some(x), Some(p)) if x.contains(p))),
            "today" => Value::Owned(self.today.clone()),
            "segments" => s(0).map(|x| Value::Int(x.split('/').filter(|p| !p.is_empty()).count() as i64)).unwrap_or(Value::None),
            name => {
                if def.domain.is_some_and(|d| d != self.domain.id()) {
                    return Value::None;
                }
                if name == "phase_index" {
                    return s(0)
                        .and_then(|p| self.policy.phase_index(p))
                        .map(|i| Value::Int(i as i64))
                        .unwrap_or(Value::None);
                }
                self.domain.call(name, args)
            }
        }
    }
}

/// Apply waivers: a matching, unexpired waiver marks the finding waived; an expired one
/// leaves it active and adds an advisory; a waiver that matched nothing is reported.
pub fn apply_waivers(policy: &Policy, findings: &mut Vec<Finding>, today: &str, domain: DomainId) {
    let mut used = vec![false; policy.waivers.len()];
    let mut extra = vec![];
    for f in findings.iter_mut() {
        for (i, w) in policy.waivers.iter().enumerate() {
            if w.check != f.check || !glob::matches(&w.subject, &f.subject) {
                continue;
            }
            used[i] = true;
            match &w.expires {
                Some(exp) if exp.as_str() < today => extra.push(Finding {
                    check: "waiver-expired".into(),
                    severity: Severity::Advisory,
                    gate: None,
                    subject: format!("{} {}", w.check, w.subject),
                    object: None,
                    message: format!(
                        "the waiver of `{}` for {} expired on {exp}; the finding applies again",
                        w.check, f.subject
                    ),
                    help: Some("fix the finding, or renew the waiver with a new expiry and approval".into()),
                    at: Some(w.span),
                    rule: None,
                    because: f.at,
                    waiver: WaiverState::None,
                }),
                _ => {
                    f.waiver = WaiverState::Waived { span: w.span, reason: w.reason.clone(), approver: w.approver.clone() };
                }
            }
            break;
        }
    }
    for (i, w) in policy.waivers.iter().enumerate() {
        let check_domain = policy.check(&w.check).map(|c| policy.checks[c].domain);
        if !used[i] && check_domain == Some(domain) {
            extra.push(Finding {
                check: "waiver-unused".into(),
                severity: Severity::Advisory,
                gate: None,
                subject: format!("{} {}", w.check, w.subject),
                object: None,
                message: format!("the waiver of `{}` for {} matches no finding", w.check, w.subject),
                help: Some("the problem it waived is gone: delete the waiver".into()),
                at: Some(w.span),
                rule: None,
                because: None,
                waiver: WaiverState::None,
            });
        }
    }
    findings.extend(extra);
}
