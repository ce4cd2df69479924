//! Owners: the rules name owners symbolically (`employee`, `responsible`,
//! `top_manager`, an email or id); here they become CRM owner ids.
//!
//! An owner that cannot be resolved (the employee is unknown, the TOP
//! manager is not a CRM user) is not an error: the record is created without
//! an owner, and the plan's trace says why, so nothing is lost over a typo
//! in `employees.yaml`.

use crate::cache::LookupCache;
use crate::connector::{ConnectorError, OwnerId};
use crate::facts::Facts;
use crate::plan::{Owner, Plan};

/// An owner resolved, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    Owner(OwnerId),
    Unresolved(String),
}

pub(crate) async fn resolve(
    owner: &Owner,
    facts: &Facts,
    plan: &Plan,
    cache: &LookupCache,
) -> Result<Resolved, ConnectorError> {
    let unresolved = |why: String| Ok(Resolved::Unresolved(why));
    match owner {
        Owner::Employee => match &facts.employee_owner {
            Some(owner) => Ok(Resolved::Owner(owner.clone())),
            None => unresolved(format!(
                "the employee is {}, not a CRM owner",
                facts.employee
            )),
        },
        Owner::Responsible => match &facts.responsible_owner {
            Some(owner) => Ok(Resolved::Owner(owner.clone())),
            None => unresolved("neither the open deal nor the contact has an owner".to_string()),
        },
        Owner::TopManager => match &plan.top_manager {
            Some(spec) => match cache.resolve_owner(spec).await? {
                Some(owner) => Ok(Resolved::Owner(owner)),
                None => unresolved(format!("the TOP manager {spec} is not an active CRM owner")),
            },
            None => unresolved("the rules name no top_manager".to_string()),
        },
        Owner::Explicit(spec) => match cache.resolve_owner(spec).await? {
            Some(owner) => Ok(Resolved::Owner(owner)),
            None => unresolved(format!("{spec} is not an active CRM owner")),
        },
    }
}
