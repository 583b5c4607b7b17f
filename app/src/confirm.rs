//! The typed confirmation every destructive action asks for (delete a tenant, remove a
//! domain), in both portals: a modal dialog whose submit button stays disabled until the
//! name is typed exactly. The server checks the typed name again; this only spares a click.

use crate::admin::model::AdminError;
use leptos::html::Dialog;
use leptos::prelude::*;

/// The dialog's state: its element, what has been typed so far, and the server's message
/// for the `confirm` field.
#[derive(Clone, Copy)]
pub struct TypedConfirm {
    pub dialog: NodeRef<Dialog>,
    typed: RwSignal<String>,
    error: Signal<Option<String>>,
}

impl TypedConfirm {
    /// For the action's last result (`ServerAction::value`): the dialog closes once the
    /// action is accepted, and shows the server's refusal of the typed name.
    pub fn new<T: Clone + Send + Sync + 'static>(
        result: MappedSignal<Option<Result<T, AdminError>>>,
    ) -> Self {
        let dialog = NodeRef::<Dialog>::new();
        Effect::new(move |_| {
            if result.get().is_some_and(|r| r.is_ok()) {
                if let Some(d) = dialog.get_untracked() {
                    d.close();
                }
            }
        });
        let error = Signal::derive(move || {
            result
                .get()
                .and_then(|r| r.err())
                .and_then(|e| e.for_field("confirm"))
        });
        TypedConfirm {
            dialog,
            typed: RwSignal::new(String::new()),
            error,
        }
    }

    /// Opens the dialog with an empty field (a previous attempt's text never carries over).
    pub fn open(&self) {
        if let Some(d) = self.dialog.get() {
            self.typed.set(String::new());
            let _ = d.show_modal();
        }
    }

    pub fn close(&self) {
        if let Some(d) = self.dialog.get() {
            d.close();
        }
    }
}

/// The dialog's field and buttons, inside the caller's `ActionForm` (which carries the
/// action and its hidden fields): "Type <expected> to confirm", the server's error for
/// the `confirm` field, Cancel, and the submit button enabled only on an exact match.
#[component]
pub fn TypedConfirmFields(
    confirm: TypedConfirm,
    /// What must be typed: the tenant's slug or the domain.
    expected: String,
    /// The input's id (unique on the page).
    input_id: String,
    /// True while the action runs.
    #[prop(into)]
    pending: Signal<bool>,
    /// The submit button's text ("Delete for good").
    submit: &'static str,
    /// The submit button's id, when tests or scripts need one.
    #[prop(optional, into)]
    submit_id: Option<String>,
) -> impl IntoView {
    let (typed, error) = (confirm.typed, confirm.error);
    let label = format!("Type {expected} to confirm");
    let matches = move || typed.with(|t| t.trim() == expected);
    view! {
        <label for=input_id.clone()>{label}</label>
        <input
            id=input_id
            name="confirm"
            autocomplete="off"
            on:input=move |ev| typed.set(event_target_value(&ev))
            prop:value=move || typed.get()
        />
        {move || error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        <div class="buttons">
            <button type="button" on:click=move |_| confirm.close()>
                "Cancel"
            </button>
            <button type="submit" class="danger" id=submit_id disabled=move || !matches() || pending.get()>
                {submit}
            </button>
        </div>
    }
}
