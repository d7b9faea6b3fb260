//! Load-time checks of what regorus only finds while evaluating: every
//! function a policy calls must exist, take that many arguments and be
//! allowed in the sandbox. Without this a misspelt or unsupported builtin
//! loads fine and then denies every request with "could not find function".

use std::collections::BTreeSet;

use regorus::unstable::{BUILTINS, Expr, Literal, Module, Query, Ref, Rule, RuleHead, Span};
use regorus::utils::get_path_string;

use crate::builtins::{PROVIDED, REFUSED};

/// Checks every call in `modules`; the error names file:line:column.
pub fn check_calls(modules: &[Ref<Module>]) -> Result<(), String> {
    let defined = defined_rules(modules);
    for module in modules {
        let scope = Scope::of(module, &defined);
        let mut calls = Vec::new();
        for rule in &module.policy {
            calls_in_rule(rule, &mut calls);
        }
        for (span, path, nargs) in calls {
            scope.check(&span, &path, nargs)?;
        }
    }
    Ok(())
}

/// `data.<package>.<rule>` for every rule and function of every module.
fn defined_rules(modules: &[Ref<Module>]) -> BTreeSet<String> {
    let mut defined = BTreeSet::new();
    for module in modules {
        let Ok(package) = get_path_string(&module.package.refr, Some("data")) else {
            continue;
        };
        for rule in &module.policy {
            let refr = match rule.as_ref() {
                Rule::Spec { head, .. } => match head {
                    RuleHead::Compr { refr, .. }
                    | RuleHead::Set { refr, .. }
                    | RuleHead::Func { refr, .. } => refr,
                },
                Rule::Default { refr, .. } => refr,
            };
            if let Ok(path) = get_path_string(refr, Some(&package)) {
                defined.insert(path);
            }
        }
    }
    defined
}

/// What a name may refer to inside one module.
struct Scope<'a> {
    package: String,
    /// `(alias, imported path)` for every `import data.…`.
    imports: Vec<(String, String)>,
    defined: &'a BTreeSet<String>,
}

impl<'a> Scope<'a> {
    fn of(module: &Module, defined: &'a BTreeSet<String>) -> Self {
        let package = get_path_string(&module.package.refr, Some("data")).unwrap_or_default();
        let imports = module
            .imports
            .iter()
            .filter_map(|import| {
                let path = get_path_string(&import.refr, None).ok()?;
                let alias = match &import.r#as {
                    Some(alias) => alias.text().to_string(),
                    None => path.rsplit('.').next()?.to_string(),
                };
                Some((alias, path))
            })
            .collect();
        Self {
            package,
            imports,
            defined,
        }
    }

    fn check(&self, span: &Span, path: &str, nargs: usize) -> Result<(), String> {
        if self.is_user_defined(path) {
            return Ok(());
        }
        if let Some((_, why)) = REFUSED.iter().find(|(name, _)| *name == path) {
            return Err(span.message(
                "error",
                &format!("builtin `{path}` is refused in the sandbox: {why}"),
            ));
        }
        if path == "print" {
            return Ok(());
        }
        let arity = PROVIDED
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(_, n)| *n)
            .or_else(|| BUILTINS.get(path).map(|(_, n)| *n));
        match arity {
            // A builtin may take one more operand: its output (`count(x, n)`).
            Some(n) if nargs == usize::from(n) || nargs == usize::from(n) + 1 => Ok(()),
            Some(n) => Err(span.message(
                "error",
                &format!("`{path}` takes {n} argument(s), given {nargs}"),
            )),
            None => Err(span.message(
                "error",
                &format!(
                    "unknown function `{path}`: no rule of the loaded modules and no builtin \
                     of the sandbox (docs/policies.md lists them)"
                ),
            )),
        }
    }

    fn is_user_defined(&self, path: &str) -> bool {
        if self.defined.contains(path) || self.defined.contains(&format!("{}.{path}", self.package))
        {
            return true;
        }
        self.imports.iter().any(|(alias, imported)| {
            let rest = if path == alias {
                Some("")
            } else {
                path.strip_prefix(alias.as_str())
                    .and_then(|r| r.strip_prefix('.'))
            };
            rest.is_some_and(|rest| {
                let full = if rest.is_empty() {
                    imported.clone()
                } else {
                    format!("{imported}.{rest}")
                };
                self.defined.contains(&full)
            })
        })
    }
}

type Call = (Span, String, usize);

fn calls_in_rule(rule: &Rule, calls: &mut Vec<Call>) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { assign, .. } => {
                    if let Some(assign) = assign {
                        calls_in_expr(&assign.value, calls);
                    }
                }
                RuleHead::Set { key, .. } => {
                    if let Some(key) = key {
                        calls_in_expr(key, calls);
                    }
                }
                RuleHead::Func { args, assign, .. } => {
                    for arg in args {
                        calls_in_expr(arg, calls);
                    }
                    if let Some(assign) = assign {
                        calls_in_expr(&assign.value, calls);
                    }
                }
            }
            for body in bodies {
                if let Some(assign) = &body.assign {
                    calls_in_expr(&assign.value, calls);
                }
                calls_in_query(&body.query, calls);
            }
        }
        Rule::Default { value, .. } => calls_in_expr(value, calls),
    }
}

fn calls_in_query(query: &Query, calls: &mut Vec<Call>) {
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(key) = key {
                    calls_in_expr(key, calls);
                }
                calls_in_expr(value, calls);
                calls_in_expr(collection, calls);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => {
                calls_in_expr(expr, calls)
            }
            Literal::Every { domain, query, .. } => {
                calls_in_expr(domain, calls);
                calls_in_query(query, calls);
            }
        }
        for with in &stmt.with_mods {
            calls_in_expr(&with.r#as, calls);
        }
    }
}

fn calls_in_expr(expr: &Expr, calls: &mut Vec<Call>) {
    match expr {
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            for item in items {
                calls_in_expr(item, calls);
            }
        }
        Expr::Object { fields, .. } => {
            for (_, key, value) in fields {
                calls_in_expr(key, calls);
                calls_in_expr(value, calls);
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            calls_in_expr(term, calls);
            calls_in_query(query, calls);
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            calls_in_expr(key, calls);
            calls_in_expr(value, calls);
            calls_in_query(query, calls);
        }
        Expr::Call { fcn, params, .. } => {
            if let Ok(path) = get_path_string(fcn, None) {
                calls.push((start_of(fcn).clone(), path, params.len()));
            }
            for param in params {
                calls_in_expr(param, calls);
            }
        }
        Expr::UnaryExpr { expr, .. } => calls_in_expr(expr, calls),
        Expr::RefDot { refr, .. } => calls_in_expr(refr, calls),
        Expr::RefBrack { refr, index, .. } => {
            calls_in_expr(refr, calls);
            calls_in_expr(index, calls);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            calls_in_expr(lhs, calls);
            calls_in_expr(rhs, calls);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(key) = key {
                calls_in_expr(key, calls);
            }
            calls_in_expr(value, calls);
            calls_in_expr(collection, calls);
        }
        _ => {}
    }
}

/// Where a reference such as `time.now_ns` starts: the spans of a call and of
/// a dotted reference start at their parenthesis and their last dot.
fn start_of(expr: &Expr) -> &Span {
    match expr {
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => start_of(refr),
        _ => expr.span(),
    }
}
