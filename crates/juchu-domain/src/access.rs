//! Staff roles and what each may do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Works orders and customers; cannot edit masters or staff.
    Operator,
    /// Also edits masters (statuses, payment methods, carriers, products, labels).
    Manager,
    /// Also manages staff and API tokens.
    Owner,
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    WriteOrders,
    WriteMasters,
    ManageStaff,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "manager" => Some(Role::Manager),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "閲覧者",
            Role::Operator => "受注担当",
            Role::Manager => "管理者",
            Role::Owner => "オーナー",
        }
    }
    pub fn allows(self, p: Permission) -> bool {
        match p {
            Permission::Read => true,
            Permission::WriteOrders => self >= Role::Operator,
            Permission::WriteMasters => self >= Role::Manager,
            Permission::ManageStaff => self == Role::Owner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_matrix() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false]),
            (Role::Operator, [true, true, false, false]),
            (Role::Manager, [true, true, true, false]),
            (Role::Owner, [true, true, true, true]),
        ];
        for (role, expect) in table {
            for (p, e) in [Read, WriteOrders, WriteMasters, ManageStaff]
                .into_iter()
                .zip(expect)
            {
                assert_eq!(role.allows(p), e, "{role:?} {p:?}");
            }
            assert_eq!(Role::parse(role.code()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
