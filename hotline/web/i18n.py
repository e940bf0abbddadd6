"""The console's words: one catalogue, Chinese (zh-CN) first and English second, used by the
page templates through `t()` and by the pages' JavaScript (embedded as JSON).

This module is long because it is data: every key holds both languages side by side, so a
translator reads and changes one line per message. Keys named after an enum value
(`status.forwarded`, `tier.vip`, `deadline.acknowledge` ...) are looked up by the JavaScript
from the values the API sends; tests/unit/test_i18n.py checks that every value has its key.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from typing import Any

from hotline.web.words import floor_reports, floor_spy, floor_states, floor_wallboard, keep_place

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANG_COOKIE = "lang"
_ALIASES = {"zh-cn": "zh-CN", "zh": "zh-CN", "zh-hans": "zh-CN", "en": "en", "en-us": "en", "en-gb": "en"}

Translate = Callable[..., str]

# key: (zh-CN, en). Placeholders are {name}; both languages use the same ones.
MESSAGES: dict[str, tuple[str, str]] = {
    # --- every page -------------------------------------------------------------------
    "app.name": ("96655 客服热线", "96655 Customer Hotline"),
    "lang.other": ("English", "中文"),
    "lang.switch": ("切换语言", "Switch language"),
    "header.user": ("{name}（{role}）", "{name} ({role})"),
    "header.logout": ("退出登录", "Log out"),
    "header.nav": ("页面导航", "Pages"),
    "ws.connecting": ("正在连接…", "Connecting…"),
    "ws.connected": ("已连接", "Connected"),
    "ws.reconnecting": ("正在重连…", "Reconnecting…"),
    "ws.error": ("服务器提示：{message}", "Server says: {message}"),
    "page.agent": ("坐席工作台", "Agent desk"),
    "page.department": ("部门工单", "Department inbox"),
    "page.supervisor": ("班长监控台", "Supervisor desk"),
    "page.admin": ("系统管理", "Administration"),
    "page.noscript": ("本页面需要启用 JavaScript。", "This page needs JavaScript."),
    "role.agent": ("坐席", "agent"),
    "role.department": ("部门人员", "department staff"),
    "role.supervisor": ("班长", "supervisor"),
    "role.admin": ("管理员", "admin"),
    # --- log-in and refusal -------------------------------------------------------------
    "login.title": ("登录", "Log in"),
    "login.name": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.error.bad": ("用户名或密码错误", "Wrong user name or password"),
    "login.error.locked": ("尝试次数过多，请15分钟后再试", "Too many attempts; try again in 15 minutes"),
    "forbidden.title": ("无权访问", "Not for you"),
    "forbidden.message": ("此页面不适用于您的角色（{role}）。", "This page is not for your role ({role})."),
    "forbidden.go": ("前往我的页面：{page}", "Go to my page: {page}"),
    # --- common words -------------------------------------------------------------------
    "common.refresh": ("刷新", "Refresh"),
    "common.save": ("保存", "Save"),
    "common.cancel": ("取消", "Cancel"),
    "common.edit": ("编辑", "Edit"),
    "common.delete": ("删除", "Delete"),
    "common.close": ("关闭", "Close"),
    "common.none": ("无", "None"),
    "common.loading": ("正在加载…", "Loading…"),
    "common.done": ("已完成", "Done"),
    "common.failed": ("操作失败：{message}", "Failed: {message}"),
    "common.network": ("网络错误，请稍后再试", "Network error; please try again"),
    "common.choose": ("请选择…", "Choose…"),
    "common.unchanged": ("没有更改", "Nothing changed"),
    "common.not_set": ("未设定", "Not set"),
    "common.yes": ("是", "Yes"),
    "common.no": ("否", "No"),
    "common.total": ("共 {total} 条", "{total} in all"),
    "common.previous": ("上一页", "Previous"),
    "common.next": ("下一页", "Next"),
    "common.reason_optional": ("原因（可选）", "Reason (optional)"),
    "common.minutes": ("{minutes} 分钟", "{minutes} min"),
    "common.seconds": ("{seconds} 秒", "{seconds} s"),
    # --- time --------------------------------------------------------------------------
    "time.days": ("{days}天", "{days}d"),
    "time.overdue": ("已超时", "overdue"),
    "time.zone_note": ("时间均为北京时间", "Times are Beijing time"),
    # --- ticket statuses (lifecycle.TicketStatus) ------------------------------------------
    "status.open": ("待处理", "open"),
    "status.forwarded": ("已转办", "forwarded"),
    "status.acknowledged": ("已响应", "acknowledged"),
    "status.resolved": ("已办结", "resolved"),
    "status.follow_up": ("回访中", "in follow-up"),
    "status.closed": ("已关闭", "closed"),
    # --- ticket actions (lifecycle.TicketAction) -------------------------------------------
    "action.classify": ("分类", "Classify"),
    "action.note": ("添加备注", "Add note"),
    "action.reply": ("答复", "Reply"),
    "action.resolve": ("办结", "Resolve"),
    "action.forward": ("转办", "Forward"),
    "action.acknowledge": ("响应", "Acknowledge"),
    "action.request_extension": ("申请延时", "Request extension"),
    "action.approve_extension": ("批准延时", "Approve extension"),
    "action.reject_extension": ("驳回延时", "Reject extension"),
    "action.start_follow_up": ("回访", "Follow up"),
    "action.close": ("关闭工单", "Close ticket"),
    "action.reopen": ("重新打开", "Reopen"),
    # --- what happened to a ticket (its timeline; the `ticket` message's kind) -------------
    "event.opened": ("建单", "opened"),
    "event.call_linked": ("关联来电", "call linked"),
    "event.classified": ("分类", "classified"),
    "event.noted": ("备注", "note"),
    "event.replied": ("答复", "replied"),
    "event.forwarded": ("转办", "forwarded"),
    "event.acknowledged": ("响应", "acknowledged"),
    "event.resolved": ("办结", "resolved"),
    "event.followed_up": ("回访", "followed up"),
    "event.closed": ("关闭", "closed"),
    "event.reopened": ("重新打开", "reopened"),
    "event.extension_requested": ("申请延时", "extension requested"),
    "event.extension_approved": ("批准延时", "extension approved"),
    "event.extension_rejected": ("驳回延时", "extension rejected"),
    "event.callback_result": ("回访结果", "callback result"),
    # --- classification (standard.py) ------------------------------------------------------
    "category.inquiry": ("咨询", "inquiry"),
    "category.fault_report": ("故障报修", "fault report"),
    "category.complaint": ("投诉", "complaint"),
    "category.business": ("业务办理", "business"),
    "category.restoration": ("业务恢复", "service restoration"),
    "category.other": ("其他", "other"),
    "fault_kind.general": ("一般故障", "general fault"),
    "fault_kind.duct": ("管道故障", "duct fault"),
    "fault_kind.major": ("重大故障", "major fault"),
    "install_kind.individual": ("个人用户（含宽带）", "individual (broadband included)"),
    "install_kind.rural": ("农村用户", "rural"),
    "install_kind.building_trunk": ("楼栋主线", "building trunk line"),
    "tier.vip": ("贵宾", "VIP"),
    "tier.key_account": ("重点客户", "key account"),
    "tier.private_network": ("专网", "private network"),
    "tier.regular": ("普通", "regular"),
    "area.urban": ("城区", "urban"),
    "area.suburban": ("郊区", "suburban"),
    "area.rural": ("农村", "rural"),
    "source.call": ("来电", "call"),
    "source.walk_in": ("来访", "walk-in"),
    "source.letter": ("信函", "letter"),
    "source.government_referral": ("政府转办", "government referral"),
    "source.other": ("其他", "other"),
    # --- deadlines (plan.DeadlineKind) and their states ------------------------------------
    "deadline.forward": ("转办", "forward"),
    "deadline.acknowledge": ("响应", "acknowledge"),
    "deadline.reply": ("答复", "reply"),
    "deadline.repair_respond": ("维修响应", "repair response"),
    "deadline.repair_fix": ("故障修复", "repair"),
    "deadline.restoration": ("业务恢复", "restoration"),
    "deadline.installation": ("安装", "installation"),
    "deadline.follow_up": ("回访", "follow-up"),
    "deadline_state.pending": ("进行中", "running"),
    "deadline_state.met": ("已完成", "met"),
    "deadline_state.breached": ("已超时", "breached"),
    "deadline_state.cancelled": ("已取消", "cancelled"),
    "deadline_event.warned": ("即将超时", "due soon"),
    "deadline_event.breached": ("已超时", "breached"),
    "deadline.level": ("第{level}级升级", "escalation level {level}"),
    "deadline.late": ("超时 {late}", "{late} late"),
    "deadline.pending_extension": ("延时待批：{time}", "extension pending: {time}"),
    "extension_state.pending": ("待审批", "pending"),
    "extension_state.approved": ("已批准", "approved"),
    "extension_state.rejected": ("已驳回", "rejected"),
    # --- calls (events.CallState, events.Outcome) and pop stages ---------------------------
    "call_state.arriving": ("呼入中", "arriving"),
    "call_state.queued": ("排队中", "waiting"),
    "call_state.ringing": ("振铃中", "ringing"),
    "call_state.talking": ("通话中", "talking"),
    "call_state.ended": ("已结束", "ended"),
    "outcome.answered": ("已接听", "answered"),
    "outcome.abandoned": ("放弃", "abandoned"),
    "outcome.timeout": ("超时未接", "timed out"),
    "outcome.failed": ("失败", "failed"),
    "stage.ringing": ("来电振铃", "Ringing"),
    "stage.missed": ("未接听", "Missed"),
    "stage.talking": ("通话中", "Talking"),
    "stage.transferred": ("已转接", "Transferred"),
    "stage.ended": ("已挂机", "Ended"),
    # --- a ticket as the panels show it ----------------------------------------------------
    "ticket.number": ("工单号", "Ticket"),
    "ticket.status": ("状态", "Status"),
    "ticket.category": ("类别", "Category"),
    "ticket.fault_kind": ("故障类型", "Fault kind"),
    "ticket.install_kind": ("安装类型", "Install kind"),
    "ticket.tier": ("客户级别", "Tier"),
    "ticket.area": ("网络区域", "Network area"),
    "ticket.caller": ("来电人", "Caller"),
    "ticket.summary": ("摘要", "Summary"),
    "ticket.department": ("承办部门", "Department"),
    "ticket.owner": ("首问责任人", "First responder"),
    "ticket.source": ("来源", "Source"),
    "ticket.opened_at": ("受理时间", "Opened"),
    "ticket.next_due": ("下一时限", "Next deadline"),
    "ticket.deadlines": ("时限", "Deadlines"),
    "ticket.due_at": ("到期时间", "Due"),
    "ticket.left": ("剩余", "Left"),
    "ticket.timeline": ("处理记录", "Timeline"),
    "ticket.actor": ("处理人", "By"),
    "ticket.when": ("时间", "When"),
    "ticket.what": ("事项", "What"),
    "ticket.details": ("详情", "Details"),
    "ticket.open": ("查看", "Open"),
    "ticket.none_selected": ("请选择一张工单", "Choose a ticket"),
    "ticket.actions": ("处理", "Work on it"),
    "ticket.no_actions": ("此工单当前无可执行的操作", "Nothing can be done on this ticket now"),
    # --- the work forms ----------------------------------------------------------------------
    "form.note": ("备注内容", "Note"),
    "form.reply": ("答复内容", "Reply to the customer"),
    "form.resolution": ("办结说明", "Resolution"),
    "form.department": ("转办部门", "Department"),
    "form.classify_nothing": ("分类没有变化", "Nothing changed in the classification"),
    "form.extension_deadline": ("延时的时限", "Deadline to extend"),
    "form.extension_until": ("延至（北京时间）", "New due time (Beijing time)"),
    "form.extension_reason": ("延时原因", "Reason for the extension"),
    "form.done": ("{action}：已完成", "{action}: done"),
    # --- agent page ----------------------------------------------------------------------------
    "pop.title": ("来电弹屏", "Screen pop"),
    "pop.idle": ("暂无来电", "No call"),
    "pop.number": ("来电号码", "Number"),
    "pop.withheld": ("未显示号码", "Number withheld"),
    "pop.callerid_name": ("来电显示名", "Caller ID name"),
    "pop.unknown": ("未登记客户", "Not in the directory"),
    "pop.queue": ("队列", "Queue"),
    "pop.manager": ("客户经理", "Account manager"),
    "pop.manager_value": ("{name}（分机 {extension}）", "{name} (ext. {extension})"),
    "pop.notes": ("客户备注", "Notes"),
    "pop.open_tickets": ("未办结工单", "Open tickets"),
    "pop.last_calls": ("最近来电", "Last calls"),
    "pop.hold": ("等待 {seconds} 秒", "waited {seconds} s"),
    "pop.ticket": ("本次工单", "This call's ticket"),
    "pop.linked": ("已关联未办结工单", "linked to an open ticket"),
    "pop.ticket_waiting": ("工单将在接听后建立", "The ticket opens when the call is answered"),
    "pop.forward_countdown": ("转办倒计时", "Forward within"),
    "my_tickets.title": ("我的工单", "My tickets"),
    "my_tickets.open": ("办理中", "In progress"),
    "my_tickets.all": ("全部", "All"),
    "my_tickets.empty": ("暂无工单", "No tickets"),
    # --- department page -------------------------------------------------------------------------
    "department.inbox": ("待办工单", "Inbox"),
    "department.empty": ("暂无待办工单", "Nothing waiting"),
    "department.work": ("工单处理", "Ticket"),
    # --- supervisor page -------------------------------------------------------------------------
    "supervisor.live_calls": ("实时来电", "Live calls"),
    "supervisor.waiting": ("排队 {count} 人", "{count} waiting"),
    "supervisor.longest": ("最长等待", "longest wait"),
    "supervisor.no_calls": ("当前无来电", "No calls now"),
    "supervisor.attention": ("临近或超过时限的工单", "Tickets near or past a deadline"),
    "supervisor.no_attention": ("暂无临近或超过时限的工单", "No ticket is near or past a deadline"),
    "supervisor.escalations": ("超时预警与升级", "Warnings and escalations"),
    "supervisor.no_escalations": ("本次打开页面后暂无预警", "None since this page was opened"),
    "supervisor.extensions": ("延时申请", "Extension requests"),
    "supervisor.no_extensions": ("暂无待审批的延时申请", "No extension request waiting"),
    "supervisor.approve": ("批准", "Approve"),
    "supervisor.reject": ("驳回", "Reject"),
    "call.state": ("状态", "State"),
    "call.caller": ("来电", "Caller"),
    "call.tier": ("级别", "Tier"),
    "call.queue": ("队列", "Queue"),
    "call.agent": ("坐席", "Agent"),
    "call.arrived": ("呼入时间", "Arrived"),
    "call.clock": ("等待 / 通话时长", "Waiting / talking"),
    "extension.ticket": ("工单", "Ticket"),
    "extension.deadline": ("时限", "Deadline"),
    "extension.due_at": ("原到期", "Due"),
    "extension.new_due_at": ("申请延至", "New due time"),
    "extension.reason": ("原因", "Reason"),
    "extension.requested_by": ("申请人", "Requested by"),
    "extension.requested_at": ("申请时间", "Requested"),
    # --- the SLA report ----------------------------------------------------------------------------
    "sla.title": ("时限达标报表", "SLA report"),
    "sla.from": ("开始日期", "From"),
    "sla.to": ("结束日期", "To"),
    "sla.group": ("分组", "Group by"),
    "sla.group.department": ("按部门", "department"),
    "sla.group.category": ("按类别", "category"),
    "sla.group.tier": ("按客户级别", "tier"),
    "sla.show": ("查询", "Show"),
    "sla.csv": ("下载 CSV", "Download CSV"),
    "sla.empty": ("该时段没有工单", "No tickets in this period"),
    "sla.total": ("合计", "Total"),
    "sla.not_forwarded": ("未转办", "not forwarded"),
    "sla.col.group": ("分组", "Group"),
    "sla.col.tickets": ("工单数", "Tickets"),
    "sla.col.deadlines": ("时限数", "Deadlines"),
    "sla.col.met": ("按时完成", "Met"),
    "sla.col.breached": ("超时", "Breached"),
    "sla.col.open": ("未到期", "Running"),
    "sla.col.rate": ("按时率", "On time"),
    "sla.col.forward": ("转办中位（分钟）", "Median to forward (min)"),
    "sla.col.acknowledge": ("响应中位（分钟）", "Median to acknowledge (min)"),
    "sla.col.resolve": ("办结中位（分钟）", "Median to resolve (min)"),
    "sla.chart": ("时限达标图", "SLA chart"),
    "sla.chart.forward": ("转办中位分钟", "Median minutes to forward"),
    "sla.chart.acknowledge": ("响应中位分钟", "Median minutes to acknowledge"),
    "sla.chart.resolve": ("办结中位分钟", "Median minutes to resolve"),
    "sla.chart.deadlines": ("时限：按时 / 超时 / 未到期", "Deadlines: met / breached / running"),
    # --- admin page -------------------------------------------------------------------------------
    "admin.users": ("用户", "Users"),
    "admin.departments": ("部门", "Departments"),
    "admin.customers": ("客户", "Customers"),
    "user.name": ("用户名", "Name"),
    "user.role": ("角色", "Role"),
    "user.extension": ("分机", "Extension"),
    "user.department": ("部门", "Department"),
    "user.password": ("密码（至少8位）", "Password (8 or more characters)"),
    "user.new_password": ("重置密码", "New password"),
    "user.disabled": ("停用", "Disabled"),
    "user.state": ("状态", "State"),
    "user.enabled_state": ("正常", "active"),
    "user.disabled_state": ("已停用", "disabled"),
    "user.create": ("新建用户", "Add user"),
    "user.no_department": ("（无部门）", "(no department)"),
    "user.token": ("API 令牌（只显示这一次）：{token}", "API token (shown this once): {token}"),
    "department.name": ("部门名称", "Department"),
    "department.head": ("负责人", "Head"),
    "department.members": ("成员", "Members"),
    "department.create": ("新建部门", "Add department"),
    "department.add_member": ("添加成员", "Add member"),
    "department.as_head": ("设为负责人", "As head"),
    "customer.search": ("搜索", "Search"),
    "customer.search_hint": ("客户名称或电话号码", "Name or phone number"),
    "customer.name": ("客户名称", "Name"),
    "customer.tier": ("客户级别", "Tier"),
    "customer.area": ("网络区域", "Network area"),
    "customer.numbers": ("电话号码（每行一个）", "Phone numbers (one a line)"),
    "customer.numbers_short": ("电话号码", "Numbers"),
    "customer.manager": ("客户经理", "Account manager"),
    "customer.notes": ("备注", "Notes"),
    "customer.external_ref": ("外部编号", "External ref."),
    "customer.create": ("新建客户", "Add customer"),
    "customer.edit": ("编辑客户：{name}", "Edit customer: {name}"),
    "customer.confirm_delete": ("确定删除客户“{name}”吗？", "Delete the customer “{name}”?"),
    "customer.empty": ("没有找到客户", "No customer found"),
    # --- callbacks (callbacks.js; callbacks.model's kinds, states and outcomes) ---------------
    "callbacks.title": ("回呼", "Callbacks"),
    "callbacks.mine": ("我的回呼", "My callbacks"),
    "callbacks.due": ("待回呼", "Waiting"),
    "callbacks.in_flight": ("正在拨打", "Being placed"),
    "callbacks.failed": ("失败，待处理", "Failed, to look at"),
    "callbacks.empty": ("暂无回呼", "No callbacks"),
    "callbacks.summary": ("待回呼 {due} · 拨打中 {busy} · 失败 {failed}", "Waiting {due} · being placed {busy} · failed {failed}"),
    "callbacks.polling": ("每10秒自动刷新", "Refreshed every 10 s"),
    "callbacks.col.kind": ("类型", "Kind"),
    "callbacks.col.customer": ("客户 / 号码", "Customer / number"),
    "callbacks.col.ticket": ("工单", "Ticket"),
    "callbacks.col.when": ("回呼时间", "When"),
    "callbacks.col.attempts": ("已拨次数", "Attempts"),
    "callbacks.col.agent": ("振铃分机", "Rings"),
    "callbacks.col.state": ("状态", "State"),
    "callbacks.col.note": ("备注", "Note"),
    "callbacks.last": ("上次：{outcome}", "Last: {outcome}"),
    "callbacks.score": ("评分 {score}", "Score {score}"),
    "callbacks.late": ("已超时限", "Past its limit"),
    "callbacks.retry": ("重新安排", "Retry"),
    "callbacks.retried": ("已重新安排回呼", "The callback is scheduled again"),
    "callbacks.cancel": ("取消回呼", "Cancel"),
    "callbacks.cancel_reason": ("取消原因", "Reason to cancel"),
    "callbacks.cancelled": ("回呼已取消", "The callback is cancelled"),
    "callbacks.record": ("记录结果", "Record"),
    "callbacks.result": ("结果（如：已上门，客户满意）", "Result (e.g. visited, customer satisfied)"),
    "callbacks.recorded": ("结果已记录", "The result is recorded"),
    "callbacks.book.title": ("预约回呼", "Book a callback"),
    "callbacks.book.hint": ("按客户要求的时间回呼，届时先振铃您的分机。", "At the time the customer asked for; your phone rings first."),
    "callbacks.book.number": ("回呼号码", "Number to call"),
    "callbacks.book.at": ("回呼时间（北京时间）", "When (Beijing time)"),
    "callbacks.book.ticket": ("关联工单（可选）", "Ticket (optional)"),
    "callbacks.book.no_ticket": ("不关联工单", "No ticket"),
    "callbacks.book.note": ("备注（可选）", "Note (optional)"),
    "callbacks.book.submit": ("预约", "Book"),
    "callbacks.book.done": ("已预约：{when} 回呼 {number}", "Booked: {number} at {when}"),
    "callbacks.book.bad_time": ("请填写回呼的日期和时间", "Enter the date and time to call back"),
    "callback_kind.abandoned": ("排队时挂机", "Hung up in the queue"),
    "callback_kind.after_hours": ("非工作时间来电", "Called after hours"),
    "callback_kind.follow_up": ("工单回访", "Ticket follow-up"),
    "callback_kind.vip_monthly": ("VIP月度回访", "VIP monthly call"),
    "callback_kind.sampled": ("抽样回访", "Sampled follow-up"),
    "callback_kind.manual": ("预约回呼", "Booked callback"),
    "callback_kind.keep_place": ("保留排位回呼", "Kept-place callback"),
    "callback_kind.visit": ("上门回访", "Visit"),
    "callback_kind.reply_letter": ("回函", "Reply letter"),
    "callback_state.scheduled": ("待回呼", "Scheduled"),
    "callback_state.placing": ("正在发起", "Placing"),
    "callback_state.in_flight": ("拨打中", "In flight"),
    "callback_state.done": ("已完成", "Done"),
    "callback_state.failed": ("失败", "Failed"),
    "callback_state.cancelled": ("已取消", "Cancelled"),
    "callback_outcome.answered": ("已接通", "Answered"),
    "callback_outcome.busy": ("占线", "Busy"),
    "callback_outcome.no_answer": ("无人接听", "No answer"),
    "callback_outcome.rejected": ("被拒接", "Declined"),
    "callback_outcome.congestion": ("线路拥塞", "Congestion"),
    "callback_outcome.failed": ("呼叫失败", "Call failed"),
}

def _merge(*parts: Mapping[str, tuple[str, str]]) -> None:
    for part in parts:
        twice = MESSAGES.keys() & part.keys()
        if twice:
            raise AssertionError(f"console words defined twice: {sorted(twice)}")
        MESSAGES.update(part)


_merge(floor_states.MESSAGES, floor_reports.MESSAGES, floor_spy.MESSAGES, floor_wallboard.MESSAGES, keep_place.MESSAGES)

CATALOGUE: dict[str, dict[str, str]] = {
    language: {key: pair[index] for key, pair in MESSAGES.items()} for index, language in enumerate(LANGUAGES)
}


def language_of(value: str | None) -> str | None:
    """A supported language code for `value` ("en", "zh-CN", "zh" ...), or None."""
    return _ALIASES.get(value.strip().lower()) if value else None


def choose_language(asked: str | None, remembered: str | None) -> str:
    """?lang= first, then the `lang` cookie, then Chinese: the console is Chinese-first,
    so the browser's Accept-Language does not decide."""
    return language_of(asked) or language_of(remembered) or DEFAULT_LANGUAGE


def translator(language: str) -> Translate:
    """t(key, **params) in `language`. An unknown key raises KeyError: templates are fixed
    code, and the tests render each of them in both languages."""
    messages = CATALOGUE[language]

    def t(key: str, **params: Any) -> str:
        text = messages[key]
        return text.format(**params) if params else text

    return t


def placeholders(text: str) -> set[str]:
    """The {names} in a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def script_json(data: Mapping[str, Any] | Any) -> str:
    """JSON to put inside <script type="application/json">: `<`, `>` and `&` are escaped
    (\\u003c ...) so no value can close the script element or open a comment; JSON.parse
    reads them back unchanged. U+2028/2029 are escaped for old parsers."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text
