// The admin's page: users (role, extension, department, password reset, disabled),
// departments and their members, and the customer directory (search, add, change, delete).

import { api, enums, failed, fill, h, label, notify, option, say, t, tierBadge } from "./console.js";

const LIMIT = 20;
const part = (id) => document.getElementById(id);
let users = [];
let departments = [];

// --- selects filled from data ------------------------------------------------------------

function fillEnumSelects() {
  for (const select of document.querySelectorAll("select[data-enum]")) {
    const group = select.dataset.enum;
    fill(select, (enums[group] || []).map((value) => option(value, label(group, value))));
  }
}

function fillSelects(selector, items, empty) {
  for (const select of document.querySelectorAll(selector)) {
    const keep = select.value;
    fill(select, select.required ? option("", t("common.choose"), true) : option("", empty, true), items.map((item) => option(item.id, item.name)));
    select.value = keep;
  }
}

function departmentSelect(current) {
  return h("select", { name: "department_id", "aria-label": t("user.department") },
    option("", t("user.no_department"), current === null),
    departments.map((dep) => option(dep.id, dep.name, dep.id === current)));
}

function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) values[name] = typeof value === "string" ? value.trim() : value;
  return values;
}

// --- users --------------------------------------------------------------------------------

function userRow(user) {
  const role = h("select", { name: "role", "aria-label": t("user.role") }, (enums.role || []).map((value) => option(value, label("role", value), value === user.role)));
  const extension = h("input", { name: "extension", value: user.extension || "", size: 6, "aria-label": t("user.extension") });
  const department = departmentSelect(user.department_id);
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", size: 10, "aria-label": t("user.new_password") });
  const disabled = h("input", { name: "disabled", type: "checkbox", checked: user.disabled, "aria-label": t("user.disabled") });
  const message = h("span", { class: "form-msg", role: "status" });
  const save = h("button", { type: "button", "data-testid": "save-user-" + user.id }, t("common.save"));
  save.addEventListener("click", async () => {
    const changes = {};
    if (role.value !== user.role) changes.role = role.value;
    if ((extension.value.trim() || null) !== (user.extension || null)) changes.extension = extension.value.trim() || null;
    const chosen = department.value ? Number(department.value) : null;
    if (chosen !== (user.department_id ?? null)) changes.department_id = chosen;
    if (password.value) changes.password = password.value;
    if (disabled.checked !== Boolean(user.disabled)) changes.disabled = disabled.checked;
    if (!Object.keys(changes).length) {
      say(message, t("common.unchanged"));
      return;
    }
    save.disabled = true;
    try {
      await api("PATCH", `/api/users/${user.id}`, changes);
      notify(t("form.done", { action: user.name }), "ok");
      await Promise.all([loadUsers(), loadDepartments()]);
    } catch (error) {
      failed(message, error);
      save.disabled = false;
    }
  });
  return h("tr", { class: user.disabled ? "disabled" : "", dataset: { userId: String(user.id) } },
    h("th", { scope: "row" }, user.name, user.disabled ? h("span", { class: "muted" }, " ", t("user.disabled_state")) : null),
    h("td", {}, role), h("td", {}, extension), h("td", {}, department), h("td", {}, password), h("td", {}, disabled),
    h("td", {}, save, message));
}

async function loadUsers() {
  try {
    users = (await api("GET", "/api/users")).users;
    fill(part("users").tBodies[0], users.map(userRow));
    fillSelects("select[data-users]", users.filter((user) => !user.disabled), t("common.not_set"));
  } catch (error) {
    notify(t("common.failed", { message: error.message }), "error");
  }
}

part("user-create").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const message = form.querySelector(".form-msg");
  const values = formValues(form);
  const body = { name: values.name, role: values.role };
  if (values.password) body.password = values.password;
  if (values.extension) body.extension = values.extension;
  if (values.department_id) body.department_id = Number(values.department_id);
  try {
    const created = await api("POST", "/api/users", body);
    form.reset();
    say(message, t("user.token", { token: created.api_token }), "ok");
    await Promise.all([loadUsers(), loadDepartments()]);
  } catch (error) {
    failed(message, error);
  }
});

// --- departments ---------------------------------------------------------------------------

async function loadDepartments() {
  try {
    departments = (await api("GET", "/api/departments")).departments;
    fill(part("departments").tBodies[0], departments.map((dep) => {
      const head = dep.members.find((member) => member.id === dep.head_user_id);
      return h("tr", { dataset: { departmentId: String(dep.id) } },
        h("th", { scope: "row" }, dep.name),
        h("td", {}, head ? head.name : "—"),
        h("td", {}, dep.members.map((member) => member.name).join("、") || "—"));
    }));
    fillSelects("select[data-departments]", departments, t("user.no_department"));
    for (const select of part("users").querySelectorAll("select[name=department_id]")) {
      const keep = select.value;
      fill(select, option("", t("user.no_department")), departments.map((dep) => option(dep.id, dep.name)));
      select.value = keep;
    }
  } catch (error) {
    notify(t("common.failed", { message: error.message }), "error");
  }
}

part("department-create").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const values = formValues(form);
  const body = { name: values.name };
  if (values.head_user_id) body.head_user_id = Number(values.head_user_id);
  try {
    await api("POST", "/api/departments", body);
    form.reset();
    say(form.querySelector(".form-msg"), t("common.done"), "ok");
    await Promise.all([loadDepartments(), loadUsers()]);
  } catch (error) {
    failed(form.querySelector(".form-msg"), error);
  }
});

part("department-member").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const values = formValues(form);
  try {
    await api("POST", `/api/departments/${Number(values.department)}/members`, { user_id: Number(values.user_id), head: Boolean(form.elements.head.checked) });
    form.reset();
    say(form.querySelector(".form-msg"), t("common.done"), "ok");
    await Promise.all([loadDepartments(), loadUsers()]);
  } catch (error) {
    failed(form.querySelector(".form-msg"), error);
  }
});

// --- customers -------------------------------------------------------------------------------

const customerForm = part("customer-form");
const customerMessage = customerForm.querySelector(".form-msg");
let offset = 0;
let query = "";
let shownLabels = new Map(); // number -> label of the customer being edited, kept on save

function customerRow(customer) {
  const edit = h("button", { type: "button", "data-testid": "edit-customer-" + customer.id, onclick: () => editCustomer(customer) }, t("common.edit"));
  const remove = h("button", { type: "button", class: "danger", "data-testid": "delete-customer-" + customer.id, onclick: () => deleteCustomer(customer) }, t("common.delete"));
  return h("tr", { dataset: { customerId: String(customer.id) } },
    h("th", { scope: "row" }, customer.name),
    h("td", {}, customer.tier === "regular" ? label("tier", customer.tier) : tierBadge(customer.tier)),
    h("td", {}, label("area", customer.area)),
    h("td", {}, customer.numbers.map((n) => n.display || n.number).join("、")),
    h("td", {}, customer.account_manager ? customer.account_manager.name : "—"),
    h("td", { class: "notes" }, customer.notes || ""),
    h("td", {}, customer.external_ref || ""),
    h("td", { class: "buttons" }, edit, remove));
}

async function loadCustomers() {
  const params = new URLSearchParams({ q: query, limit: String(LIMIT), offset: String(offset) });
  try {
    const body = await api("GET", `/api/customers?${params}`);
    const rows = body.customers.map(customerRow);
    fill(part("customers").tBodies[0], rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("customer.empty"))));
    part("customers-total").textContent = t("common.total", { total: body.total });
    part("customers-previous").disabled = offset === 0;
    part("customers-next").disabled = offset + LIMIT >= body.total;
  } catch (error) {
    notify(t("common.failed", { message: error.message }), "error");
  }
}

function editCustomer(customer) {
  const f = customerForm.elements;
  f.id.value = String(customer.id);
  f.name.value = customer.name;
  f.tier.value = customer.tier;
  f.area.value = customer.area;
  f.numbers.value = customer.numbers.map((n) => n.number).join("\n");
  f.account_manager_id.value = customer.account_manager ? String(customer.account_manager.id) : "";
  f.notes.value = customer.notes || "";
  f.external_ref.value = customer.external_ref || "";
  shownLabels = new Map(customer.numbers.filter((n) => n.label).map((n) => [n.number, n.label]));
  part("customer-form-title").textContent = t("customer.edit", { name: customer.name });
  say(customerMessage, "");
  customerForm.scrollIntoView({ block: "nearest" });
}

function resetCustomerForm() {
  customerForm.elements.id.value = "";
  shownLabels = new Map();
  part("customer-form-title").textContent = t("customer.create");
}

async function deleteCustomer(customer) {
  if (!window.confirm(t("customer.confirm_delete", { name: customer.name }))) return;
  try {
    await api("DELETE", `/api/customers/${customer.id}`);
    notify(t("common.done"), "ok");
    await loadCustomers();
  } catch (error) {
    notify(t("common.failed", { message: error.message }), "error");
  }
}

customerForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = formValues(customerForm);
  const numbers = values.numbers.split(/[\n,，;；]+/).map((n) => n.trim()).filter(Boolean)
    .map((number) => (shownLabels.has(number) ? { number, label: shownLabels.get(number) } : number));
  const body = {
    name: values.name,
    tier: values.tier,
    area: values.area,
    numbers,
    account_manager_id: values.account_manager_id ? Number(values.account_manager_id) : null,
    notes: values.notes,
    external_ref: values.external_ref || null,
  };
  try {
    if (values.id) await api("PUT", `/api/customers/${Number(values.id)}`, body);
    else await api("POST", "/api/customers", body);
    customerForm.reset();
    resetCustomerForm();
    say(customerMessage, t("common.done"), "ok");
    await loadCustomers();
  } catch (error) {
    failed(customerMessage, error);
  }
});
customerForm.addEventListener("reset", () => {
  resetCustomerForm();
  say(customerMessage, "");
});

part("customer-search").addEventListener("submit", (event) => {
  event.preventDefault();
  query = event.currentTarget.elements.q.value.trim();
  offset = 0;
  loadCustomers();
});
part("customers-previous").addEventListener("click", () => {
  offset = Math.max(0, offset - LIMIT);
  loadCustomers();
});
part("customers-next").addEventListener("click", () => {
  offset += LIMIT;
  loadCustomers();
});

fillEnumSelects();
loadDepartments().then(loadUsers);
loadCustomers();
