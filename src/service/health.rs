//! Is this instance able to serve? Cheap checks for health and readiness probes.

use super::{Ctx, Result};

/// Can the database answer a trivial query?
pub async fn database(ctx: &Ctx) -> Result<()> {
    crate::store::ping(&ctx.db.pool).await?;
    Ok(())
}
