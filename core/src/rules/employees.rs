//! The employee directory (`employees.yaml`): who in Ringostat is whom in
//! the CRM.
//!
//! Ringostat identifies the employee on a call by SIP login, the number that
//! answered, a staff id, a name or an email, depending on the project's
//! setup. Each entry lists an employee's identities and the CRM owner (email
//! or id) they map to. An employee found nowhere here is `employee: unknown`.

use std::collections::HashMap;

use serde::Deserialize;

use crate::event::EmployeeIdentity;
use crate::phone::{E164, Region};
use crate::plan::OwnerSpec;

use super::action::parse_owner_spec;
use super::diagnostic::Diagnostic;
use super::yaml::{Locator, YamlPath, forms};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmployeesFile {
    #[serde(default)]
    employees: Vec<EmployeeSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmployeeSpec {
    name: Option<String>,
    #[serde(deserialize_with = "forms::text")]
    owner: String,
    #[serde(default, deserialize_with = "forms::texts")]
    sip: Vec<String>,
    #[serde(default, deserialize_with = "forms::texts")]
    numbers: Vec<String>,
    #[serde(default, deserialize_with = "forms::texts")]
    staff_ids: Vec<String>,
    #[serde(default, deserialize_with = "forms::texts")]
    emails: Vec<String>,
    #[serde(default, deserialize_with = "forms::texts")]
    extensions: Vec<String>,
}

/// One employee as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    pub name: Option<String>,
    pub owner: OwnerSpec,
}

/// Ringostat identities → CRM owners.
#[derive(Debug, Clone, Default)]
pub struct EmployeeDirectory {
    employees: Vec<Employee>,
    by_staff_id: HashMap<String, usize>,
    by_sip: HashMap<String, usize>,
    by_phone: HashMap<E164, usize>,
    by_email: HashMap<String, usize>,
    by_extension: HashMap<String, usize>,
    /// Names are weak identities: only names that belong to one employee.
    by_name: HashMap<String, usize>,
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl EmployeeDirectory {
    pub fn len(&self) -> usize {
        self.employees.len()
    }

    pub fn is_empty(&self) -> bool {
        self.employees.is_empty()
    }

    /// The employee an identity belongs to. Tried in order of reliability:
    /// staff id, SIP login, `connected_with`, number, email, extension, name.
    pub fn lookup(&self, identity: &EmployeeIdentity) -> Option<&Employee> {
        let by = |map: &HashMap<String, usize>, key: &Option<String>| {
            key.as_deref().and_then(|k| map.get(&normalize(k)).copied())
        };
        let connected_phone = identity
            .connected_with
            .as_deref()
            .and_then(|raw| E164::parse(raw, Region::default()).ok());
        by(&self.by_staff_id, &identity.staff_id)
            .or_else(|| by(&self.by_sip, &identity.sip_login))
            .or_else(|| by(&self.by_sip, &identity.connected_with))
            .or_else(|| {
                identity
                    .phone
                    .as_ref()
                    .and_then(|p| self.by_phone.get(p).copied())
            })
            .or_else(|| connected_phone.and_then(|p| self.by_phone.get(&p).copied()))
            .or_else(|| by(&self.by_email, &identity.email))
            .or_else(|| by(&self.by_extension, &identity.extension))
            .or_else(|| by(&self.by_name, &identity.name))
            .and_then(|index| self.employees.get(index))
    }

    /// Every owner the directory maps to (for `hubspot doctor`).
    pub fn owners(&self) -> Vec<&OwnerSpec> {
        let mut owners: Vec<&OwnerSpec> = self.employees.iter().map(|e| &e.owner).collect();
        owners.sort();
        owners.dedup();
        owners
    }
}

impl EmployeesFile {
    pub(crate) fn compile(
        &self,
        region: Region,
        locator: &Locator,
    ) -> (EmployeeDirectory, Vec<Diagnostic>) {
        let mut directory = EmployeeDirectory::default();
        let mut diagnostics = Vec::new();
        let mut names: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, spec) in self.employees.iter().enumerate() {
            let at = YamlPath::root().key("employees").index(index);
            let owner = parse_owner_spec(&spec.owner).unwrap_or_else(|_| {
                diagnostics.push(
                    locator
                        .error(
                            &at.key("owner"),
                            format!("owner `{}` is not a CRM owner", spec.owner),
                        )
                        .with_hint("write the employee's CRM user email or numeric owner id"),
                );
                OwnerSpec::Id(spec.owner.clone())
            });
            let label = spec.name.clone().unwrap_or_else(|| owner.to_string());
            if spec.sip.is_empty()
                && spec.numbers.is_empty()
                && spec.staff_ids.is_empty()
                && spec.emails.is_empty()
                && spec.extensions.is_empty()
                && spec.name.is_none()
            {
                diagnostics.push(
                    locator
                        .error(&at, format!("employee {label} has no Ringostat identity"))
                        .with_hint("list at least one of sip, numbers, staff_ids, emails, extensions or name"),
                );
            }
            let claim = |map: &mut HashMap<String, usize>,
                         key: String,
                         field: &str,
                         i: usize,
                         diagnostics: &mut Vec<Diagnostic>| {
                if let Some(&other) = map.get(&key) {
                    if other != index {
                        let other_label = directory_label(&self.employees[other]);
                        diagnostics.push(
                            locator
                                .error(
                                    &at.key(field).index(i),
                                    format!("{field} `{key}` is already listed for {other_label}"),
                                )
                                .with_hint(
                                    "each Ringostat identity may belong to one employee only",
                                ),
                        );
                    }
                } else {
                    map.insert(key, index);
                }
            };
            for (i, sip) in spec.sip.iter().enumerate() {
                claim(
                    &mut directory.by_sip,
                    normalize(sip),
                    "sip",
                    i,
                    &mut diagnostics,
                );
            }
            for (i, id) in spec.staff_ids.iter().enumerate() {
                claim(
                    &mut directory.by_staff_id,
                    normalize(id),
                    "staff_ids",
                    i,
                    &mut diagnostics,
                );
            }
            for (i, email) in spec.emails.iter().enumerate() {
                claim(
                    &mut directory.by_email,
                    normalize(email),
                    "emails",
                    i,
                    &mut diagnostics,
                );
            }
            for (i, extension) in spec.extensions.iter().enumerate() {
                claim(
                    &mut directory.by_extension,
                    normalize(extension),
                    "extensions",
                    i,
                    &mut diagnostics,
                );
            }
            for (i, raw) in spec.numbers.iter().enumerate() {
                match E164::parse(raw, region) {
                    Ok(phone) => {
                        if let Some(&other) = directory.by_phone.get(&phone) {
                            if other != index {
                                diagnostics.push(locator.error(
                                    &at.key("numbers").index(i),
                                    format!("number {phone} is already listed for {}", directory_label(&self.employees[other])),
                                ));
                            }
                        } else {
                            directory.by_phone.insert(phone, index);
                        }
                    }
                    Err(error) => diagnostics.push(
                        locator
                            .error(&at.key("numbers").index(i), error.to_string())
                            .with_hint("write numbers as +380671234567 or in any local spelling of the project's region"),
                    ),
                }
            }
            if let Some(name) = &spec.name {
                names.entry(normalize(name)).or_default().push(index);
            }
            directory.employees.push(Employee {
                name: spec.name.clone(),
                owner,
            });
        }
        for (name, owners) in names {
            if let [only] = owners.as_slice() {
                directory.by_name.insert(name, *only);
            }
        }
        (directory, diagnostics)
    }
}

fn directory_label(spec: &EmployeeSpec) -> String {
    spec.name.clone().unwrap_or_else(|| spec.owner.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
employees:
  - name: Olena Ivanenko
    owner: olena@acme.ua
    sip: acmecom_ivanenko
    numbers: ["067 111 22 33"]
    staff_ids: [111111]
    extensions: 101
  - name: Petro Shevchenko
    owner: 6166860
    emails: petro@acme.ua
"#;

    fn directory() -> EmployeeDirectory {
        let file: EmployeesFile = super::super::yaml::parse("employees.yaml", FILE).expect("valid");
        let (directory, diagnostics) =
            file.compile(Region::default(), &Locator::new("employees.yaml", FILE));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        directory
    }

    #[test]
    fn every_identity_finds_its_employee() {
        let directory = directory();
        let olena = OwnerSpec::Email("olena@acme.ua".into());
        let petro = OwnerSpec::Id("6166860".into());
        let cases: Vec<(EmployeeIdentity, Option<&OwnerSpec>)> = vec![
            (
                EmployeeIdentity {
                    staff_id: Some("111111".into()),
                    ..Default::default()
                },
                Some(&olena),
            ),
            (
                EmployeeIdentity {
                    sip_login: Some("AcmeCom_Ivanenko".into()),
                    ..Default::default()
                },
                Some(&olena),
            ),
            (
                EmployeeIdentity {
                    connected_with: Some("acmecom_ivanenko".into()),
                    ..Default::default()
                },
                Some(&olena),
            ),
            (
                EmployeeIdentity {
                    connected_with: Some("380671112233".into()),
                    ..Default::default()
                },
                Some(&olena),
            ),
            (
                EmployeeIdentity {
                    phone: E164::parse("0671112233", Region::default()).ok(),
                    ..Default::default()
                },
                Some(&olena),
            ),
            (
                EmployeeIdentity {
                    extension: Some("101".into()),
                    ..Default::default()
                },
                Some(&olena),
            ),
            (
                EmployeeIdentity {
                    name: Some("  olena   ivanenko ".into()),
                    ..Default::default()
                },
                Some(&olena),
            ),
            (
                EmployeeIdentity {
                    email: Some("Petro@Acme.ua".into()),
                    ..Default::default()
                },
                Some(&petro),
            ),
            (
                EmployeeIdentity {
                    sip_login: Some("acmecom_nobody".into()),
                    ..Default::default()
                },
                None,
            ),
            (EmployeeIdentity::default(), None),
        ];
        for (identity, expected) in cases {
            assert_eq!(
                directory.lookup(&identity).map(|e| &e.owner),
                expected,
                "{identity:?}"
            );
        }
        assert_eq!(directory.owners().len(), 2);
    }

    #[test]
    fn conflicts_and_bad_values_are_reported_where_they_are() {
        let text = "employees:\n  - owner: a@acme.ua\n    sip: x\n  - owner: b@acme.ua\n    sip: [y, x]\n  - owner: nobody\n    sip: z\n  - owner: c@acme.ua\n    numbers: [\"12\"]\n  - owner: d@acme.ua\n";
        let file: EmployeesFile = super::super::yaml::parse("employees.yaml", text).expect("valid");
        let (_, diagnostics) =
            file.compile(Region::default(), &Locator::new("employees.yaml", text));
        let found: Vec<(usize, &str)> = diagnostics
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(found.len(), 4, "{found:?}");
        assert_eq!(found[0].0, 5);
        assert!(found[0].1.contains("already listed for a@acme.ua"));
        assert_eq!(found[1].0, 6);
        assert!(found[1].1.contains("not a CRM owner"));
        assert_eq!(found[2].0, 9);
        assert_eq!(found[3].0, 10);
        assert!(found[3].1.contains("no Ringostat identity"));
    }
}
