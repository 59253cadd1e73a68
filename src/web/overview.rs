//! The administrators' Overview (their page after login): the account's verifications per day
//! as a stacked bar chart drawn on the server (SVG, a `<title>` per bar, the same numbers as a
//! table), the members whose PIN is locked now with Unlock, the last events in words, and the
//! alarm for impostors until it is acknowledged.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::activity::ActivityRow;
use super::error::Result;
use super::flash::Flash;
use super::session::Auth;
use super::users::admin_account;
use super::{urls, Chrome};
use crate::domain::time::day_of;
use crate::domain::MemberAction;
use crate::http::time::format_time;
use crate::http::AppState;
use crate::service::overview::{self, Day};
use crate::service::{alarm, ServiceError};

/// The drawing's size in its own units (it scales to the page).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 180.0;
/// Room below the bars for the dates.
const AXIS: f64 = 16.0;

/// One part of a stacked bar.
pub struct Segment {
    pub class: &'static str,
    pub y: String,
    pub height: String,
}

/// One day's bar.
pub struct Bar {
    pub x: String,
    pub width: String,
    pub segments: Vec<Segment>,
    /// What a pointer or a screen reader gets: the day and its numbers.
    pub title: String,
    /// The date under it (x, text), every seventh day.
    pub label: Option<(String, String)>,
    /// Today's label ends at the right edge.
    pub last: bool,
}

/// One row of the table beside the chart.
pub struct DayRow {
    pub date: String,
    pub correct: i64,
    pub wrong: i64,
    pub locked: i64,
}

pub struct LockedRow {
    pub full_name: String,
    pub username: String,
    pub unlock_url: String,
    pub dialog: String,
}

/// The alarm as the page shows it.
pub struct AlarmView {
    pub words: String,
    pub raised: String,
    pub acknowledge_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "users/overview.html")]
pub struct OverviewPage {
    chrome: Chrome,
    account_name: String,
    flash: Option<Flash>,
    alarm: Option<AlarmView>,
    bars: Vec<Bar>,
    days: Vec<DayRow>,
    /// The most verifications on one day (the chart's top).
    top: i64,
    totals: (i64, i64, i64),
    locked: Vec<LockedRow>,
    recent: Vec<ActivityRow>,
    width: f64,
    height: f64,
    baseline: f64,
    label_y: f64,
}

/// The chart's top: the largest day, rounded up to a number people read (at least 4).
fn chart_top(days: &[Day]) -> i64 {
    let most = days.iter().map(Day::total).max().unwrap_or(0).max(4);
    let step = match most {
        0..=10 => 2,
        11..=50 => 10,
        51..=200 => 25,
        _ => 100,
    };
    (most + step - 1) / step * step
}

fn bars(days: &[Day], top: i64) -> Vec<Bar> {
    let slot = WIDTH / days.len().max(1) as f64;
    let scale = (HEIGHT - AXIS) / top as f64;
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            let mut y = HEIGHT - AXIS;
            let mut segments = Vec::new();
            for (class, n) in [
                ("bar-correct", d.correct),
                ("bar-wrong", d.wrong),
                ("bar-locked", d.locked),
            ] {
                if n == 0 {
                    continue;
                }
                let h = n as f64 * scale;
                y -= h;
                segments.push(Segment {
                    class,
                    y: format!("{y:.1}"),
                    height: format!("{h:.1}"),
                });
            }
            let date = day_of(d.day * 86_400);
            let x = i as f64 * slot;
            Bar {
                last: i + 1 == days.len(),
                x: format!("{:.1}", x + slot * 0.15),
                width: format!("{:.1}", slot * 0.7),
                segments,
                title: format!(
                    "{date}: {} correct, {} wrong, {} locked",
                    d.correct, d.wrong, d.locked
                ),
                // Every seventh day back from today, today's at the right edge.
                label: (days.len() - 1 - i).is_multiple_of(7).then(|| {
                    let at = if i + 1 == days.len() {
                        WIDTH
                    } else {
                        x + slot / 2.0
                    };
                    (format!("{at:.1}"), date[5..].to_owned())
                }),
            }
        })
        .collect()
}

pub async fn overview_get(State(state): State<AppState>, auth: Auth) -> Result<OverviewPage> {
    render(&state, &auth, None).await
}

async fn render(state: &AppState, auth: &Auth, flash: Option<Flash>) -> Result<OverviewPage> {
    let account = admin_account(auth)?;
    let o = overview::overview(&state.ctx, &auth.user, account.id).await?;
    let top = chart_top(&o.days);
    let totals = o.days.iter().fold((0, 0, 0), |(c, w, l), d| {
        (c + d.correct, w + d.wrong, l + d.locked)
    });
    let reader = auth.user.username.as_str();
    Ok(OverviewPage {
        chrome: Chrome::of(auth),
        account_name: account.name,
        flash,
        alarm: o.alarm.map(|(a, words)| AlarmView {
            words,
            raised: format_time(a.raised_at),
            acknowledge_url: urls::with_id(urls::OVERVIEW_ACKNOWLEDGE, a.id),
        }),
        bars: bars(&o.days, top),
        days: o
            .days
            .iter()
            .rev()
            .map(|d| DayRow {
                date: day_of(d.day * 86_400),
                correct: d.correct,
                wrong: d.wrong,
                locked: d.locked,
            })
            .collect(),
        top,
        totals,
        locked: o
            .locked
            .into_iter()
            .map(|u| LockedRow {
                unlock_url: urls::member_action(u.id, MemberAction::Unlock),
                dialog: format!("unlock-{}", u.id),
                full_name: u.full_name,
                username: u.username,
            })
            .collect(),
        recent: o
            .recent
            .into_iter()
            .map(|e| ActivityRow::of(e, reader))
            .collect(),
        width: WIDTH,
        height: HEIGHT,
        baseline: HEIGHT - AXIS,
        label_y: HEIGHT - 3.0,
    })
}

/// An administrator has seen the alarm: the Overview stops showing it.
pub async fn acknowledge_post(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let flash = match alarm::acknowledge(&state.ctx, &auth.user, account.id, id).await {
        Ok(()) => Flash::done("The warning is acknowledged."),
        Err(ServiceError::NotFound) => Flash::done("The warning was already acknowledged."),
        Err(e) => return Err(e.into()),
    };
    Ok(render(&state, &auth, Some(flash)).await?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_stacks_each_day_under_a_readable_top() {
        let days: Vec<Day> = (0..30)
            .map(|i| Day {
                day: 20_000 + i,
                correct: i,
                wrong: i % 3,
                locked: i64::from(i == 29),
            })
            .collect();
        let top = chart_top(&days);
        assert_eq!(top, 40, "31 on the busiest day, in steps of 10");
        let drawn = bars(&days, top);
        assert_eq!(drawn.len(), 30);
        assert!(drawn[0].segments.is_empty(), "an empty day draws nothing");
        let last = &drawn[29];
        assert_eq!(last.segments.len(), 3);
        assert_eq!(
            last.title,
            format!(
                "{}: 29 correct, 2 wrong, 1 locked",
                day_of((20_000 + 29) * 86_400)
            )
        );
        let heights: f64 = last
            .segments
            .iter()
            .map(|s| s.height.parse::<f64>().unwrap())
            .sum();
        assert!((heights - 32.0 * (HEIGHT - AXIS) / 40.0).abs() < 0.5);
        assert_eq!(chart_top(&[]), 4);
    }
}
