//! Reservations (1.1.0 and later): units promised to an order, held back from sale until released or fulfilled.
//!
//! `POST /reservations` holds units (only what is available; negative stock is
//! never allowed for a reservation), `DELETE /reservations/{id}` gives them
//! back, and `POST /reservations/{id}/fulfil` sells them: one `sell` movement
//! whose reference names the reservation.

use modhost_sdk::clock::now_ms;
use modhost_sdk::kv::check_key_part;
use modhost_sdk::{Error, Request, Response, Result, Router, kv};
use serde::{Deserialize, Serialize};

use crate::model::{MovementInput, MovementKind, check_quantity};
use crate::queries::Paging;
use crate::stock::StockRow;
use crate::{store, threshold};

/// Adds the reservation routes.
pub fn routes(router: Router) -> Router {
    router
        .post("/reservations", create)
        .get("/reservations", list)
        .get("/reservations/{id}", get)
        .delete("/reservations/{id}", release)
        .post("/reservations/{id}/fulfil", fulfil)
}

/// What a client sends to reserve units.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationInput {
    /// The product.
    pub sku: String,
    /// Where the units are held.
    pub location: String,
    /// How many units.
    pub quantity: i64,
    /// The client's reference (an order number).
    pub reference: Option<String>,
}

/// Units held for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// `r<number>`.
    pub id: String,
    /// The product.
    pub sku: String,
    /// Where the units are held.
    pub location: String,
    /// How many units.
    pub quantity: i64,
    /// The client's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When it was made, unix milliseconds.
    pub at: u64,
}

/// Checks a reservation body's shape.
pub fn check_input(input: &ReservationInput) -> Result<()> {
    check_key_part("sku", &input.sku)?;
    check_key_part("location", &input.location)?;
    check_quantity(input.quantity).map(|_| ())
}

fn key(id: &str) -> String {
    format!("reservations/{id}")
}

fn load(request: &Request) -> Result<Reservation> {
    let id = request.param("id")?;
    check_key_part("reservation", id)?;
    store::require(&key(id), || format!("no reservation `{id}`"))
}

fn create(request: &Request) -> Result<Response> {
    let input: ReservationInput = request.json()?;
    check_input(&input)?;
    store::product(&input.sku)?;
    store::location(&input.location)?;
    let mut level = store::level(&input.sku, &input.location)?;
    if level.available() < input.quantity {
        return Err(Error::unprocessable(format!(
            "cannot reserve {} of `{}` at `{}`: only {} available",
            input.quantity,
            input.sku,
            input.location,
            level.available()
        )));
    }
    level.reserved += input.quantity;
    let reservation = Reservation {
        id: format!("r{}", store::next_seq()?),
        sku: input.sku,
        location: input.location,
        quantity: input.quantity,
        reference: input.reference,
        at: now_ms(),
    };
    store::set_level(&reservation.sku, &reservation.location, &level)?;
    store::put(&key(&reservation.id), &reservation)?;
    let stock = StockRow::new(&reservation.sku, &reservation.location, &level, threshold());
    Response::created(&serde_json::json!({ "reservation": reservation, "stock": stock }))
}

fn list(request: &Request) -> Result<Response> {
    let paging = Paging::from_query(&request.query_pairs()?, &[], 1000)?;
    let (reservations, next) = store::scan("reservations/", paging.after.as_deref(), paging.limit, |key| {
        kv::get_json::<Reservation>(key)
    })?;
    Response::ok(&serde_json::json!({ "reservations": reservations, "next": next }))
}

fn get(request: &Request) -> Result<Response> {
    Response::ok(&load(request)?)
}

fn release(request: &Request) -> Result<Response> {
    let reservation = load(request)?;
    let mut level = store::level(&reservation.sku, &reservation.location)?;
    level.reserved = (level.reserved - reservation.quantity).max(0);
    store::set_level(&reservation.sku, &reservation.location, &level)?;
    kv::delete(&key(&reservation.id))?;
    let stock = StockRow::new(&reservation.sku, &reservation.location, &level, threshold());
    Response::ok(&serde_json::json!({ "released": reservation, "stock": stock }))
}

fn fulfil(request: &Request) -> Result<Response> {
    let reservation = load(request)?;
    let sale = MovementInput {
        kind: MovementKind::Sell,
        sku: reservation.sku.clone(),
        location: Some(reservation.location.clone()),
        from: None,
        to: None,
        quantity: Some(reservation.quantity),
        delta: None,
        reason: None,
        reference: Some(format!("reservation {}", reservation.id)),
    };
    let (movement, stock) = crate::record_movement(sale, Some(&reservation))?;
    kv::delete(&key(&reservation.id))?;
    Response::created(&serde_json::json!({ "movement": movement, "stock": stock }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_bodies_are_checked() {
        let input = |quantity| ReservationInput {
            sku: "A".into(),
            location: "s1".into(),
            quantity,
            reference: None,
        };
        assert_eq!(check_input(&input(2)), Ok(()));
        assert_eq!(
            check_input(&input(0)),
            Err(Error::unprocessable(
                "quantity must be between 1 and 1000000, not 0"
            ))
        );
        assert_eq!(
            check_input(&ReservationInput {
                location: "s/1".into(),
                ..input(1)
            }),
            Err(Error::bad_request(
                "location `s/1` is not valid; use 1 to 64 letters, digits, `.`, `_` or `-`"
            ))
        );
    }
}
