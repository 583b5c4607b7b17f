//! An owner's custom domains on their own tenants: the same services as the superadmin's
//! ([`crate::domains`]), after the tenant is found among the owner's. Another owner's tenant
//! is `NotFound`, whatever the route, before anything about its domains is read or changed.

use super::tenants::{self as owned, OwnerRef};
use crate::domains::{self, CustomDomain};
use crate::platform::Platform;
use crate::service::ServiceError;
use uuid::Uuid;

/// The owner's tenant id (as the domain services take it), or `NotFound`.
async fn own_tenant(p: &Platform, owner: &OwnerRef, tenant: Uuid) -> Result<String, ServiceError> {
    Ok(owned::get(p, owner.id, &tenant.to_string())
        .await?
        .id
        .to_string())
}

/// The custom domains of one of the owner's tenants, oldest first.
pub async fn list(
    p: &Platform,
    owner: &OwnerRef,
    tenant: Uuid,
) -> Result<Vec<CustomDomain>, ServiceError> {
    let id = own_tenant(p, owner, tenant).await?;
    domains::list(p, &id).await
}

/// One custom domain of one of the owner's tenants.
pub async fn get(
    p: &Platform,
    owner: &OwnerRef,
    tenant: Uuid,
    domain: &str,
) -> Result<CustomDomain, ServiceError> {
    let id = own_tenant(p, owner, tenant).await?;
    domains::get(p, &id, domain).await
}

/// Adds a custom domain to one of the owner's tenants (its DNS check starts).
pub async fn add(
    p: &Platform,
    owner: &OwnerRef,
    tenant: Uuid,
    domain: &str,
) -> Result<CustomDomain, ServiceError> {
    let id = own_tenant(p, owner, tenant).await?;
    domains::add(p, &owner.actor(), &id, domain).await
}

/// Checks a pending domain's DNS now, or a failed one again.
pub async fn verify_now(
    p: &Platform,
    owner: &OwnerRef,
    tenant: Uuid,
    domain: &str,
) -> Result<CustomDomain, ServiceError> {
    let id = own_tenant(p, owner, tenant).await?;
    domains::verify_now(p, &owner.actor(), &id, domain).await
}

/// Removes a custom domain (and its route) from one of the owner's tenants.
pub async fn remove(
    p: &Platform,
    owner: &OwnerRef,
    tenant: Uuid,
    domain: &str,
) -> Result<(), ServiceError> {
    let id = own_tenant(p, owner, tenant).await?;
    domains::remove(p, &owner.actor(), &id, domain).await
}
