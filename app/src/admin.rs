//! The admin page (`/admin`): projects, ingest keys, prices, users, read tokens and the audit
//! log. Every form is a server action (it works before hydration too); after any of them
//! succeeds the lists reload. New keys and tokens are shown once.

use leptos::form::ActionForm;
use leptos::prelude::*;
use shared::{format_count, format_usd, format_utc_ms, AdminOverview};

use crate::api::{
    AdminAddDiscount, AdminAddPriceRule, AdminCreateAlertRule, AdminCreateBudget, AdminCreateKey,
    AdminCreateProject, AdminCreateToken, AdminCreateUser, AdminCreateWebhook,
    AdminDeleteAlertRule, AdminDeleteBudget, AdminDeleteDiscount, AdminDeletePriceRule,
    AdminDisableUser, AdminDisableWebhook, AdminEraseEndUser, AdminRenameProject, AdminReprice,
    AdminRepricePreview, AdminRepriceResume, AdminResolvePrice, AdminRevokeKey, AdminRevokeToken,
    AdminSetPrice, AdminSetUserProjects, AdminTestWebhook, AdminUpdateAlertRule, AdminUpdateBudget,
};

type Outcome = Option<Result<Option<String>, ServerFnError>>;

/// The admin page's one overview; every section reads its part of it.
type Overview = Resource<Result<AdminOverview, ServerFnError>>;

/// The actions of the pricing and re-pricing sections, created by the page so that the
/// overview reloads after each (one load for the whole page, and a price set in one section
/// shows in the others).
#[derive(Clone, Copy)]
struct PricingActions {
    add_rule: ServerAction<AdminAddPriceRule>,
    delete_rule: ServerAction<AdminDeletePriceRule>,
    add_discount: ServerAction<AdminAddDiscount>,
    delete_discount: ServerAction<AdminDeleteDiscount>,
    start: ServerAction<AdminReprice>,
    resume: ServerAction<AdminRepriceResume>,
    /// "Refresh runs".
    refresh: RwSignal<u32>,
}

impl PricingActions {
    /// What the overview depends on.
    fn versions(&self) -> (usize, usize, usize, usize, usize, usize, u32) {
        (
            self.add_rule.version().get(),
            self.delete_rule.version().get(),
            self.add_discount.version().get(),
            self.delete_discount.version().get(),
            self.start.version().get(),
            self.resume.version().get(),
            self.refresh.get(),
        )
    }
}

/// What an action's last run said: the secret to copy now, "Saved", or the error.
fn outcome(value: Outcome, what: &'static str) -> impl IntoView {
    match value {
        None => ().into_any(),
        Some(Ok(Some(secret))) => {
            // None: not tried; Some(ok): whether the browser took it.
            let copied = RwSignal::new(None::<bool>);
            let text = secret.clone();
            view! {
                <div class="secret" role="status">
                    <p>
                        {format!("New {what}: ")}
                        <code data-testid="new-secret">{secret}</code>
                        <button type="button" class="copy" on:click=move |_| {
                            copy_to_clipboard(&text, copied);
                        }>{move || match copied.get() {
                            None => "Copy",
                            Some(true) => "Copied",
                            Some(false) => "Copy failed: select and copy it",
                        }}</button>
                    </p>
                    <p class="warning"><strong>"You will not see this again."</strong>
                        " Only a hash is stored; if it is lost, make a new one and revoke this one."</p>
                </div>
            }
            .into_any()
        }
        Some(Ok(None)) => view! { <p class="ok" role="status">"Saved."</p> }.into_any(),
        Some(Err(e)) => {
            let text = e.to_string();
            let text = text
                .strip_prefix("error running server function: ")
                .unwrap_or(&text)
                .to_string();
            view! { <p class="failed" role="alert">{text}</p> }.into_any()
        }
    }
}

/// Puts `text` on the clipboard and says in `done` whether the browser took it (client only;
/// the Copy button is never clicked on the server).
fn copy_to_clipboard(text: &str, done: RwSignal<Option<bool>>) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let Some(window) = web_sys::window() else {
            return done.set(Some(false));
        };
        let promise = window.navigator().clipboard().write_text(text);
        leptos::task::spawn_local(async move {
            let ok = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            done.set(Some(ok));
        });
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    let _ = (text, done);
}

fn state(revoked: Option<i64>) -> String {
    match revoked {
        Some(at) => format!("revoked {}", format_utc_ms(at)),
        None => "active".into(),
    }
}

fn usd_per_mtok(micros: i64) -> String {
    format!("${}.{:06}", micros / 1_000_000, micros % 1_000_000)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// An amount as the budget form takes it: USD with up to six decimals, no separators
/// (`1500`, `0.25`).
fn plain_usd(nanos: i64) -> String {
    let micros = nanos / 1000;
    let text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn scope(projects: &Option<Vec<String>>) -> String {
    projects
        .as_ref()
        .map(|p| p.join(", "))
        .unwrap_or_else(|| "all projects".into())
}

/// A destructive action on one row, asked twice: the first button arms it ("Revoke"), then
/// "Yes, revoke key ua_…" submits the row's form and "Cancel" steps back. The question takes
/// the focus, so a keyboard user answers it next.
#[component]
fn Confirm(verb: &'static str, what: String) -> impl IntoView {
    let armed = RwSignal::new(false);
    let yes = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if armed.get() {
            if let Some(b) = yes.get() {
                let _ = b.focus();
            }
        }
    });
    let ask = format!("{verb} {what}");
    let confirm = format!("Yes, {} {what}", verb.to_lowercase());
    view! {
        <Show when=move || armed.get() fallback=move || view! {
            <button type="button" class="danger" aria-label=ask.clone()
                on:click=move |_| armed.set(true)>{verb}</button>
        }>
            <button type="submit" class="danger" node_ref=yes>{confirm.clone()}</button>
            <button type="button" on:click=move |_| armed.set(false)>"Cancel"</button>
        </Show>
    }
}

/// Editing one row in place: the button ("Rename", "Edit") opens the row's fields (the
/// children, inside the row's form) with Save and Cancel; the first field takes the focus.
/// Saving submits the row's form; the lists then reload and the row shows its new values.
#[component]
fn Editor(verb: &'static str, what: String, children: ChildrenFn) -> impl IntoView {
    let open = RwSignal::new(false);
    let fields = NodeRef::<leptos::html::Span>::new();
    Effect::new(move |_| {
        if open.get() {
            focus_first_field(fields);
        }
    });
    let ask = format!("{verb} {what}");
    let save = format!("Save {what}");
    view! {
        <Show when=move || open.get() fallback=move || view! {
            <button type="button" aria-label=ask.clone() on:click=move |_| open.set(true)>{verb}</button>
        }>
            <span class="edit-fields" node_ref=fields>{children()}</span>
            <button type="submit" class="primary" aria-label=save.clone()>"Save"</button>
            <button type="button" on:click=move |_| open.set(false)>"Cancel"</button>
        </Show>
    }
}

/// Moves the keyboard focus to the first input or select inside `fields` (in the browser).
fn focus_first_field(fields: NodeRef<leptos::html::Span>) {
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        use wasm_bindgen::JsCast;
        let first = (fields.get()).and_then(|f| {
            f.query_selector("input:not([type=hidden]), select")
                .ok()
                .flatten()
        });
        if let Some(el) = first.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    }
    #[cfg(not(all(feature = "hydrate", not(feature = "ssr"))))]
    let _ = fields;
}

/// Ticks for the projects a user or token may see (none ticked: all), sent as the form's
/// `projects` field ("A, B") the admin functions read. `initial`: the ones ticked at first.
#[component]
fn ProjectPicker(overview: Overview, #[prop(optional)] initial: Vec<String>) -> impl IntoView {
    let ticked = initial.clone();
    let chosen = RwSignal::new(initial);
    view! {
        <fieldset class="project-picker">
            <legend>"Only projects (none ticked: all)"</legend>
            <input type="hidden" name="projects" prop:value=move || chosen.get().join(", ")/>
            {lists_with(overview, move |o| {
                o.projects.into_iter().map(|p| {
                    let name = p.name.clone();
                    let checked = ticked.contains(&p.name);
                    view! {
                        <label class="pick">
                            <input type="checkbox" prop:checked=checked on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|x| x != &name);
                                    if on {
                                        c.push(name.clone());
                                    }
                                });
                            }/>
                            {p.name}
                        </label>
                    }
                }).collect_view().into_any()
            })}
        </fieldset>
    }
}

/// The overview's lists as `render` draws them, once loaded.
fn lists_with(
    overview: Overview,
    render: impl Fn(AdminOverview) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <div class="loading" aria-busy="true">"Loading…"</div> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match overview.await {
                        Ok(o) => render(o),
                        Err(e) => view! { <p class="failed" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// The admin page.
#[component]
pub fn AdminPage() -> impl IntoView {
    let create_project = ServerAction::<AdminCreateProject>::new();
    let rename_project = ServerAction::<AdminRenameProject>::new();
    let set_user_projects = ServerAction::<AdminSetUserProjects>::new();
    let update_budget = ServerAction::<AdminUpdateBudget>::new();
    let delete_budget = ServerAction::<AdminDeleteBudget>::new();
    let update_rule = ServerAction::<AdminUpdateAlertRule>::new();
    let create_key = ServerAction::<AdminCreateKey>::new();
    let revoke_key = ServerAction::<AdminRevokeKey>::new();
    let set_price = ServerAction::<AdminSetPrice>::new();
    // `/admin?model=NAME#prices`: the dashboard's "set a price" link fills in the model.
    let price_model = leptos_router::hooks::use_query_map()
        .get_untracked()
        .get("model")
        .unwrap_or_default();
    let create_user = ServerAction::<AdminCreateUser>::new();
    let disable_user = ServerAction::<AdminDisableUser>::new();
    let create_token = ServerAction::<AdminCreateToken>::new();
    let revoke_token = ServerAction::<AdminRevokeToken>::new();
    let create_budget = ServerAction::<AdminCreateBudget>::new();
    let create_rule = ServerAction::<AdminCreateAlertRule>::new();
    let delete_rule = ServerAction::<AdminDeleteAlertRule>::new();
    let create_webhook = ServerAction::<AdminCreateWebhook>::new();
    let disable_webhook = ServerAction::<AdminDisableWebhook>::new();
    let test_webhook = ServerAction::<AdminTestWebhook>::new();
    let pricing = PricingActions {
        add_rule: ServerAction::new(),
        delete_rule: ServerAction::new(),
        add_discount: ServerAction::new(),
        delete_discount: ServerAction::new(),
        start: ServerAction::new(),
        resume: ServerAction::new(),
        refresh: RwSignal::new(0),
    };
    let overview = Resource::new(
        move || {
            (
                create_project.version().get(),
                create_key.version().get(),
                revoke_key.version().get(),
                set_price.version().get(),
                create_user.version().get(),
                disable_user.version().get(),
                create_token.version().get(),
                revoke_token.version().get(),
                create_budget.version().get(),
                (
                    create_rule.version().get(),
                    delete_rule.version().get(),
                    create_webhook.version().get(),
                    disable_webhook.version().get(),
                    test_webhook.version().get(),
                ),
                pricing.versions(),
                (
                    rename_project.version().get(),
                    set_user_projects.version().get(),
                    update_budget.version().get(),
                    delete_budget.version().get(),
                    update_rule.version().get(),
                ),
            )
        },
        |_| crate::api::admin_overview(),
    );
    let lists = move |render: fn(AdminOverview) -> AnyView| lists_with(overview, render);

    view! {
        <header class="topbar">
            <h1>"Administration"</h1>
            <a href="/" class="admin-link">"← Dashboard"</a>
        </header>
        <main class="admin">
            <section class="panel" aria-labelledby="projects-title">
                <h2 id="projects-title">"Projects"</h2>
                {lists_with(overview, move |o| view! {
                    <ul class="plain" data-testid="project-list">
                        {o.projects.into_iter().map(|p| {
                            let name = p.name.clone();
                            view! {
                                <li>{p.name}<small>{format!(" · created {}", format_utc_ms(p.created_at_ms))}</small>
                                    " "
                                    <ActionForm action=rename_project attr:class="row-form">
                                        <input type="hidden" name="name" value=name.clone()/>
                                        <Editor verb="Rename" what=format!("project {name}")>
                                            <label>"New name " <input name="new_name" required maxlength="200" value=name.clone()/></label>
                                        </Editor>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any())}
                <ActionForm action=create_project attr:class="inline-form">
                    <label>"New project" <input name="name" required maxlength="200"/></label>
                    <button type="submit">"Create project"</button>
                </ActionForm>
                {move || outcome(create_project.value().get(), "project")}
                {move || outcome(rename_project.value().get(), "project")}
            </section>

            <section class="panel" aria-labelledby="keys-title">
                <h2 id="keys-title">"Ingest keys"</h2>
                {lists_with(overview, move |o| view! {
                    <table class="admin-table" tabindex="0" data-testid="key-list">
                        <thead><tr><th>"Prefix"</th><th>"Project"</th><th>"Created"</th><th>"State"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {o.keys.into_iter().map(|k| {
                                let active = k.revoked_at_ms.is_none();
                                let prefix = k.prefix.clone();
                                view! {
                                    <tr><td><code>{k.prefix}</code></td><td>{k.project}</td>
                                    <td>{format_utc_ms(k.created_at_ms)}</td><td>{state(k.revoked_at_ms)}</td>
                                    <td>{active.then(|| view! {
                                        <ActionForm action=revoke_key attr:class="row-form">
                                            <input type="hidden" name="prefix" value=prefix.clone()/>
                                            <Confirm verb="Revoke" what=format!("key {prefix}")/>
                                        </ActionForm>
                                    })}</td></tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
                <ActionForm action=create_key attr:class="inline-form">
                    <label>"Project" <input name="project" required/></label>
                    <button type="submit">"Create ingest key"</button>
                </ActionForm>
                {move || outcome(create_key.value().get(), "ingest key")}
                {move || outcome(revoke_key.value().get(), "key")}
            </section>

            <section class="panel" id="prices" aria-labelledby="prices-title">
                <h2 id="prices-title">"Prices (USD per million tokens)"</h2>
                {lists(|o| view! {
                    <table class="admin-table" tabindex="0">
                        <thead><tr><th>"Model"</th><th>"From"</th><th>"Input"</th><th>"Cached input"</th><th>"Cache write"</th><th>"Output"</th></tr></thead>
                        <tbody>
                            {o.prices.into_iter().map(|p| view! {
                                <tr><td>{p.model}</td><td>{format_utc_ms(p.effective_from_ms)}</td>
                                <td>{usd_per_mtok(p.input)}</td><td>{usd_per_mtok(p.cached_input)}</td>
                                <td>{usd_per_mtok(p.cache_write)}</td><td>{usd_per_mtok(p.output)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
                <ActionForm action=set_price attr:class="inline-form">
                    <label>"Model" <input name="model" required value=price_model/></label>
                    <label>"Input" <input name="input" required inputmode="decimal" placeholder="3.00"/></label>
                    <label>"Output" <input name="output" required inputmode="decimal" placeholder="15.00"/></label>
                    <label>"Cached input" <input name="cached_input" inputmode="decimal" placeholder="= input"/></label>
                    <label>"Cache write" <input name="cache_write" inputmode="decimal" placeholder="= input"/></label>
                    <label>"From (UTC)" <input name="from" type="date"/></label>
                    <button type="submit">"Set price"</button>
                </ActionForm>
                {move || outcome(set_price.value().get(), "price")}
            </section>

            <CatalogueSection overview actions=pricing/>

            <EndUsersSection/>

            <RepriceSection overview actions=pricing/>

            <section class="panel" aria-labelledby="users-title">
                <h2 id="users-title">"Users"</h2>
                {lists_with(overview, move |o| view! {
                    <table class="admin-table" tabindex="0" data-testid="user-list">
                        <thead><tr><th>"Email"</th><th>"Role"</th><th>"Sees"</th><th>"State"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {o.users.into_iter().map(|u| {
                                let email = u.email.clone();
                                let active = !u.disabled;
                                let viewer = u.role == shared::Role::Viewer;
                                let editing = email.clone();
                                let sees = u.projects.clone().unwrap_or_default();
                                view! {
                                    <tr><td>{u.email}</td><td>{u.role.as_str()}</td><td>{scope(&u.projects)}</td>
                                    <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                    <td>{(active && viewer).then(|| view! {
                                        <ActionForm action=set_user_projects attr:class="row-form">
                                            <input type="hidden" name="email" value=editing.clone()/>
                                            <Editor verb="Edit" what=format!("projects of user {editing}")>
                                                <ProjectPicker overview initial=sees.clone()/>
                                            </Editor>
                                        </ActionForm>
                                    })}
                                    {active.then(|| view! {
                                        <ActionForm action=disable_user attr:class="row-form">
                                            <input type="hidden" name="email" value=email.clone()/>
                                            <Confirm verb="Disable" what=format!("user {email}")/>
                                        </ActionForm>
                                    })}</td></tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
                <ActionForm action=create_user attr:class="inline-form">
                    <label>"Email" <input name="email" type="email" required/></label>
                    <label>"Password" <input name="password" type="password" required minlength="10" autocomplete="new-password"/></label>
                    <label>"Role"
                        <select name="role"><option value="viewer">"viewer"</option><option value="admin">"admin"</option></select>
                    </label>
                    <ProjectPicker overview/>
                    <button type="submit">"Create user"</button>
                </ActionForm>
                {move || outcome(create_user.value().get(), "user")}
                {move || outcome(disable_user.value().get(), "user")}
                {move || outcome(set_user_projects.value().get(), "user")}
            </section>

            <section class="panel" aria-labelledby="tokens-title">
                <h2 id="tokens-title">"Read API tokens"</h2>
                {lists_with(overview, move |o| view! {
                    <table class="admin-table" tabindex="0" data-testid="token-list">
                        <thead><tr><th>"Prefix"</th><th>"Name"</th><th>"Sees"</th><th>"Created by"</th><th>"State"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {o.tokens.into_iter().map(|t| {
                                let active = t.revoked_at_ms.is_none();
                                let prefix = t.prefix.clone();
                                view! {
                                    <tr><td><code>{t.prefix}</code></td><td>{t.name}</td><td>{scope(&t.projects)}</td>
                                    <td>{t.created_by}</td><td>{state(t.revoked_at_ms)}</td>
                                    <td>{active.then(|| view! {
                                        <ActionForm action=revoke_token attr:class="row-form">
                                            <input type="hidden" name="prefix" value=prefix.clone()/>
                                            <Confirm verb="Revoke" what=format!("token {prefix}")/>
                                        </ActionForm>
                                    })}</td></tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
                <ActionForm action=create_token attr:class="inline-form">
                    <label>"Name" <input name="name" required maxlength="200"/></label>
                    <ProjectPicker overview/>
                    <button type="submit">"Create token"</button>
                </ActionForm>
                {move || outcome(create_token.value().get(), "token")}
                {move || outcome(revoke_token.value().get(), "token")}
            </section>

            <section class="panel" aria-labelledby="budgets-title">
                <h2 id="budgets-title">"Budgets"</h2>
                {lists_with(overview, move |o| view! {
                    <table class="admin-table" tabindex="0" data-testid="budget-list">
                        <thead><tr><th>"#"</th><th>"For"</th><th>"Amount"</th><th>"Alert at"</th><th>"This period"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {o.budgets.into_iter().map(|b| {
                                let (id, id2) = (b.id.to_string(), b.id.to_string());
                                let (what, what2) = (format!("budget {}", b.id), format!("budget {}", b.id));
                                let usd = plain_usd(b.amount_nanos);
                                let thresholds = b.thresholds.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
                                let whole = b.label();
                                view! {
                                    <tr><td>{b.id}</td><td>{whole}</td>
                                    <td>{format!("{} per {} ({})", format_usd(b.amount_nanos), b.period, b.tz)}</td>
                                    <td>{format!("{thresholds} %")}</td>
                                    <td>{format!("{} · {:.1} %", format_usd(b.spend_nanos), b.percent)}</td>
                                    <td>
                                        <ActionForm action=update_budget attr:class="row-form">
                                            <input type="hidden" name="id" value=id.clone()/>
                                            <Editor verb="Edit" what=what.clone()>
                                                <label>"USD " <input name="usd" required inputmode="decimal" value=usd.clone()/></label>
                                                <label>"Alert at % " <input name="thresholds" value=thresholds.clone()/></label>
                                            </Editor>
                                        </ActionForm>
                                        <ActionForm action=delete_budget attr:class="row-form">
                                            <input type="hidden" name="id" value=id2/>
                                            <Confirm verb="Delete" what=what2/>
                                        </ActionForm>
                                    </td></tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
                {move || outcome(update_budget.value().get(), "budget")}
                {move || outcome(delete_budget.value().get(), "budget")}
                <p class="muted">"Spend and alerts are on the dashboard's Budgets panel. \"Only\" narrows a budget to one dimension value (team=search for a declared key, user=…, key=…, provider=…); such a budget is checked every 10 seconds instead of after every batch."</p>
                <ActionForm action=create_budget attr:class="inline-form">
                    <label>"Project" <input name="project" placeholder="empty: organisation"/></label>
                    <label>"USD" <input name="usd" required inputmode="decimal" placeholder="500"/></label>
                    <label>"Per"
                        <select name="period">
                            <option value="month">"month"</option>
                            <option value="week">"week"</option>
                            <option value="day">"day"</option>
                        </select>
                    </label>
                    <label>"Time zone" <input name="tz" value="UTC"/></label>
                    <label>"Alert at %" <input name="thresholds" value="50, 80, 100"/></label>
                    <label>"Only" <input name="scope" maxlength="200" placeholder="optional: team=search"/></label>
                    <button type="submit">"Create budget"</button>
                </ActionForm>
                {move || outcome(create_budget.value().get(), "budget")}
            </section>

            <section class="panel wide" aria-labelledby="rules-title">
                <h2 id="rules-title">"Metric alerts"</h2>
                <p class="muted">"Checked every minute over the last window of events; each change (firing, resolved) is notified once to every webhook."</p>
                {lists_with(overview, move |o| view! {
                    <table class="admin-table" tabindex="0" data-testid="rule-list">
                        <thead><tr><th>"#"</th><th>"Name"</th><th>"Condition"</th><th>"State"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {o.alert_rules.into_iter().map(|r| {
                                let (id, id2) = (r.id.to_string(), r.id.to_string());
                                let what = format!("rule {} ({})", r.id, r.name);
                                let editing = format!("threshold of {what}");
                                // The threshold in the unit the form takes (error rate: percent).
                                let threshold = shared::format_metric(&r.metric, r.threshold)
                                    .trim_end_matches(" ms").trim_end_matches(" %").to_string();
                                view! {
                                    <tr><td>{r.id}</td><td>{r.name.clone()}</td><td>{r.describe()}</td>
                                    <td>{format!("{} since {}", r.state, format_utc_ms(r.state_since_ms))}</td>
                                    <td><ActionForm action=update_rule attr:class="row-form">
                                        <input type="hidden" name="id" value=id2/>
                                        <Editor verb="Edit" what=editing>
                                            <label>"Threshold " <input name="threshold" required inputmode="decimal" value=threshold.clone()/></label>
                                        </Editor>
                                    </ActionForm>
                                    <ActionForm action=delete_rule attr:class="row-form">
                                        <input type="hidden" name="id" value=id/>
                                        <Confirm verb="Delete" what/>
                                    </ActionForm></td></tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
                <ActionForm action=create_rule attr:class="inline-form">
                    <label>"Name" <input name="name" required maxlength="200" placeholder="Errors"/></label>
                    <label>"Metric"
                        <select name="metric">
                            <option value="error_rate">"error rate (%)"</option>
                            <option value="p95_latency">"p95 latency (ms)"</option>
                            <option value="requests">"requests"</option>
                        </select>
                    </label>
                    <label>"Is"
                        <select name="op"><option value="above">"above"</option><option value="below">"below"</option></select>
                    </label>
                    <label>"Threshold" <input name="threshold" required inputmode="decimal" placeholder="5"/></label>
                    <label>"Over minutes" <input name="window_minutes" required inputmode="numeric" value="10"/></label>
                    <label>"Project" <input name="project" placeholder="empty: all"/></label>
                    <label>"Model" <input name="model" placeholder="empty: all"/></label>
                    <label>"Min. requests" <input name="min_requests" inputmode="numeric" value="20"/></label>
                    <label>"Only" <input name="scope" maxlength="200" placeholder="optional: user=u-1"/></label>
                    <button type="submit">"Create rule"</button>
                </ActionForm>
                {move || outcome(create_rule.value().get(), "rule")}
                {move || outcome(delete_rule.value().get(), "rule")}
                {move || outcome(update_rule.value().get(), "rule")}
            </section>

            <section class="panel wide" aria-labelledby="webhooks-title">
                <h2 id="webhooks-title">"Webhooks"</h2>
                <p class="muted">"Alerts are POSTed as JSON with X-UA-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\" under the secret>, retried with backoff for about an hour."</p>
                {lists_with(overview, move |o| view! {
                        <table class="admin-table" tabindex="0" data-testid="webhook-list">
                            <thead><tr><th>"#"</th><th>"URL"</th><th>"Created"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>
                                {o.webhooks.into_iter().map(|w| {
                                    let (id, id2) = (w.id.to_string(), w.id.to_string());
                                    let enabled = w.disabled_at_ms.is_none();
                                    view! {
                                        <tr><td>{w.id}</td><td><code>{w.url}</code></td><td>{format_utc_ms(w.created_at_ms)}</td>
                                        <td>{if enabled { "active".to_string() } else { state(w.disabled_at_ms).replace("revoked", "disabled") }}</td>
                                        <td>{enabled.then(|| view! {
                                            <ActionForm action=test_webhook attr:class="row-form">
                                                <input type="hidden" name="id" value=id/>
                                                <button type="submit">"Send test"</button>
                                            </ActionForm>
                                            <ActionForm action=disable_webhook attr:class="row-form">
                                                <input type="hidden" name="id" value=id2.clone()/>
                                                <Confirm verb="Disable" what=format!("webhook {id2}")/>
                                            </ActionForm>
                                        })}</td></tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any())}
                {move || outcome(test_webhook.value().get(), "delivery")}
                {move || outcome(disable_webhook.value().get(), "webhook")}
                <ActionForm action=create_webhook attr:class="inline-form">
                    <label>"URL" <input name="url" type="url" required placeholder="https://hooks.example.com/ua"/></label>
                    <button type="submit">"Add webhook"</button>
                </ActionForm>
                {move || outcome(create_webhook.value().get(), "webhook secret")}
                <h3>"Deliveries (newest 50)"</h3>
                {lists(|o| view! {
                    <table class="admin-table" tabindex="0" data-testid="delivery-log">
                        <thead><tr><th>"Created"</th><th>"Webhook"</th><th>"Event"</th><th>"State"</th><th>"Attempts"</th><th>"Last answer"</th></tr></thead>
                        <tbody>
                            {o.deliveries.into_iter().map(|d| {
                                let answer = match (d.last_status, d.last_error) {
                                    (_, Some(e)) => e,
                                    (Some(s), None) => format!("HTTP {s}"),
                                    (None, None) => "—".into(),
                                };
                                let state = match d.state.as_str() {
                                    "pending" if d.attempts > 0 => format!("retry at {}", format_utc_ms(d.next_attempt_at_ms)),
                                    _ => d.state.clone(),
                                };
                                view! {
                                    <tr><td>{format_utc_ms(d.created_at_ms)}</td><td>{format!("#{} {}", d.webhook_id, d.url)}</td>
                                    <td>{d.kind}</td><td>{state}</td><td>{d.attempts}</td><td>{answer}</td></tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
            </section>

            <section class="panel wide" aria-labelledby="audit-title">
                <h2 id="audit-title">"Audit log (newest 100)"</h2>
                {lists(|o| view! {
                    <table class="admin-table" tabindex="0" data-testid="audit-log">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Detail"</th></tr></thead>
                        <tbody>
                            {o.audit.into_iter().map(|a| view! {
                                <tr><td>{format_utc_ms(a.at_ms)}</td><td>{a.actor}</td><td>{a.action}</td><td>{a.detail}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any())}
            </section>
        </main>
    }
}

/// What a report-giving action's last run said: its text, or the error.
fn report(value: Outcome) -> impl IntoView {
    match value {
        None | Some(Ok(None)) => ().into_any(),
        Some(Ok(Some(text))) => view! { <p class="ok" role="status">{text}</p> }.into_any(),
        Some(Err(e)) => outcome(Some(Err(e)), "").into_any(),
    }
}

/// Re-pricing stored events after a price arrived late or changed with a past date: a
/// preview, the run (in the background on the server), and the runs with their progress.
#[component]
fn RepriceSection(overview: Overview, actions: PricingActions) -> impl IntoView {
    let preview = ServerAction::<AdminRepricePreview>::new();
    let PricingActions {
        start,
        resume,
        refresh,
        ..
    } = actions;
    let from = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let run_now = move |_| {
        start.dispatch(AdminReprice {
            from: from.get_untracked(),
            model: model.get_untracked(),
        });
    };
    view! {
        <section class="panel" id="reprice" aria-labelledby="reprice-title">
            <h2 id="reprice-title">"Re-price stored events"</h2>
            <p class="note">
                "After a price arrives late or changes with a past date, price the stored events "
                "from that date again with today's prices. Costs sent by clients never change; "
                "periods whose raw events retention deleted keep theirs."
            </p>
            <ActionForm action=preview attr:class="inline-form">
                <label>"From (UTC)" <input name="from" type="date" required bind:value=from/></label>
                <label>"Model" <input name="model" placeholder="every model" bind:value=model/></label>
                <button type="submit">"Preview"</button>
            </ActionForm>
            <div data-testid="reprice-preview">{move || report(preview.value().get())}</div>
            {move || matches!(preview.value().get(), Some(Ok(Some(_)))).then(|| view! {
                <button type="button" data-testid="reprice-run" on:click=run_now>"Re-price these events"</button>
            })}
            {move || report(start.value().get())}
            {move || report(resume.value().get())}
            <button type="button" data-testid="reprice-refresh" on:click=move |_| refresh.update(|n| *n += 1)>
                "Refresh runs"
            </button>
            {lists_with(overview, move |o| runs_table(o.reprice_runs, resume).into_any())}
        </section>
    }
}

/// The newest re-pricing runs: progress, what changed, and Resume for an unfinished one.
fn runs_table(
    runs: Vec<shared::RepriceRunInfo>,
    resume: ServerAction<AdminRepriceResume>,
) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="empty">"No re-pricing yet."</p> }.into_any();
    }
    view! {
        <table class="admin-table" tabindex="0" data-testid="reprice-runs">
            <thead><tr><th>"Run"</th><th>"From"</th><th>"Model"</th><th>"State"</th><th>"Re-priced"</th><th>"Cost before → after"</th><th>"By"</th></tr></thead>
            <tbody>
                {runs.into_iter().map(|r| {
                    let state = match r.finished_at_ms {
                        Some(_) => "finished".to_string(),
                        None => format!(
                            "unfinished ({} %)",
                            (r.after_id * 100).checked_div(r.up_to_id).unwrap_or(100).min(100)
                        ),
                    };
                    let unfinished = r.finished_at_ms.is_none();
                    view! {
                        <tr>
                            <td>{r.id}</td>
                            <td>{format_utc_ms(r.from_ms)}</td>
                            <td>{r.model.unwrap_or_else(|| "every model".into())}</td>
                            <td data-testid="reprice-state">
                                {state}
                                {unfinished.then(|| view! {
                                    " " <button type="button" on:click=move |_| { resume.dispatch(AdminRepriceResume {}); }>"Resume"</button>
                                })}
                            </td>
                            <td>{format!("{} of {}", format_count(r.events_changed), format_count(r.events_seen))}</td>
                            <td>{format!("{} → {}", format_usd(r.cost_before_nanos), format_usd(r.cost_after_nanos))}</td>
                            <td>{r.created_by}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The catalogue in force, each model's list price beside the organisation's own, name
/// rules, discounts, and "which price does this name get".
#[component]
fn CatalogueSection(overview: Overview, actions: PricingActions) -> impl IntoView {
    let PricingActions {
        add_rule,
        delete_rule,
        add_discount,
        delete_discount,
        ..
    } = actions;
    let resolve = ServerAction::<AdminResolvePrice>::new();
    view! {
        <section class="panel" id="catalogue" aria-labelledby="catalogue-title">
            <h2 id="catalogue-title">"List prices and your own"</h2>
            {lists_with(overview, move |o| view! {
                <p class="note" data-testid="catalogue-in-force">{format!("Catalogue in force: {}", o.catalogue)}</p>
                <div class="table-wrap">
                    <table class="admin-table" tabindex="0" data-testid="model-prices">
                        <thead><tr><th>"Model"</th><th>"Catalogue (USD per 1M tokens)"</th><th>"Name rule"</th><th>"Price table"</th><th>"Discount"</th><th>"Priced by"</th></tr></thead>
                        <tbody>
                            {o.model_prices.into_iter().map(|m| view! {
                                <tr>
                                    <td>{m.model}{m.provider.map(|p| view! { <small class="provider">{p}</small> })}</td>
                                    <td>{m.catalogue.unwrap_or_else(|| "–".into())}</td>
                                    <td>{m.rule.unwrap_or_default()}</td>
                                    <td>{m.price_table.unwrap_or_default()}</td>
                                    <td>{m.discount.unwrap_or_default()}</td>
                                    <td>{m.source.label()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <h3>"Name rules"</h3>
                <table class="admin-table" tabindex="0" data-testid="price-rules">
                    <thead><tr><th>"Rule"</th><th>"Names like"</th><th>"are priced as"</th><th></th></tr></thead>
                    <tbody>
                        {o.price_rules.into_iter().map(|r| view! {
                            <tr><td>{r.id}</td><td><code>{r.pattern}</code></td><td>{r.model}</td>
                            <td><ActionForm action=delete_rule attr:class="row-action">
                                <input type="hidden" name="id" value=r.id.to_string()/>
                                <button type="submit" class="danger">"Delete"</button>
                            </ActionForm></td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <h3>"Discounts"</h3>
                <table class="admin-table" tabindex="0" data-testid="discounts">
                    <thead><tr><th>"Discount"</th><th>"Off"</th><th>"For"</th><th>"From"</th><th></th></tr></thead>
                    <tbody>
                        {o.discounts.into_iter().map(|d| view! {
                            <tr><td>{d.id}</td><td>{format!("{} %", d.basis_points as f64 / 100.0)}</td>
                            <td>{format!("{} {}", d.scope.as_str(), d.name)}</td><td>{format_utc_ms(d.effective_from_ms)}</td>
                            <td><ActionForm action=delete_discount attr:class="row-action">
                                <input type="hidden" name="id" value=d.id.to_string()/>
                                <button type="submit" class="danger">"Delete"</button>
                            </ActionForm></td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any())}
            <ActionForm action=add_rule attr:class="inline-form">
                <label>"Names like" <input name="pattern" required placeholder="azure/my-gpt4o-*"/></label>
                <label>"are priced as" <input name="model" required placeholder="gpt-4o"/></label>
                <button type="submit">"Add name rule"</button>
            </ActionForm>
            {move || outcome(add_rule.value().get(), "rule")}
            {move || outcome(delete_rule.value().get(), "rule")}
            <ActionForm action=add_discount attr:class="inline-form">
                <label>"For" <select name="scope"><option value="provider">"provider"</option><option value="model">"model"</option></select></label>
                <label>"Name" <input name="name" required placeholder="anthropic"/></label>
                <label>"Percent off" <input name="percent" required inputmode="decimal" placeholder="15"/></label>
                <label>"From (UTC)" <input name="from" type="date"/></label>
                <button type="submit">"Add discount"</button>
            </ActionForm>
            {move || outcome(add_discount.value().get(), "discount")}
            {move || outcome(delete_discount.value().get(), "discount")}
            <ActionForm action=resolve attr:class="inline-form">
                <label>"Model name as sent" <input name="name" required placeholder="us.anthropic.claude-sonnet-4-20250514-v1:0"/></label>
                <label>"Provider" <input name="provider" placeholder="optional"/></label>
                <button type="submit">"Which price?"</button>
            </ActionForm>
            <div data-testid="price-explained" class="explained">{move || report(resolve.value().get())}</div>
        </section>
    }
}

/// Erasing an end user's id (often an email) from every stored event, confirmed by a tick.
#[component]
fn EndUsersSection() -> impl IntoView {
    let erase = ServerAction::<AdminEraseEndUser>::new();
    view! {
        <section class="panel" id="end-users" aria-labelledby="end-users-title">
            <h2 id="end-users-title">"End users"</h2>
            <p class="note">
                "Erasing an end user replaces their id with \"(erased)\" in every stored event "
                "(also where it was stored hashed); their requests and costs stay in every total. "
                "It cannot be undone."
            </p>
            <ActionForm action=erase attr:class="inline-form">
                <label>"End user id" <input name="id" required autocomplete="off"/></label>
                // Not sent: the browser refuses to submit until it is ticked.
                <label><input type="checkbox" required/>" I understand this cannot be undone"</label>
                <button type="submit" class="danger">"Erase end user"</button>
            </ActionForm>
            {move || report(erase.value().get())}
        </section>
    }
}
