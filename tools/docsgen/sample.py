"""The sample files docs/playbooks.md shows, and the moment its examples are computed at.

tests/test_docs.py validates them: the directory and playbook together as a library with the
real templates, the secrets as a config, the approvals against the approvals model.
"""

from __future__ import annotations

from datetime import datetime

from crisisd.formats.timefmt import TEHRAN

# The moment every example is computed at: Saturday 28 November 2026 (۷ آذر ۱۴۰۵), 10:30.
OPENED = datetime(2026, 11, 28, 10, 30, tzinfo=TEHRAN)


SAMPLE_DIRECTORY = """\
contacts:
  officer.hosseini:
    name: {fa: نرگس حسینی, en: Narges Hosseini}
    title: {fa: مسئول روابط عمومی, en: PR officer}
    chats: {bale: 1000005501, telegram: 6000005501}
    phone: "0912 000 5501"
    email: n.hosseini@example.com
  hse.karimi:
    name: {fa: مهدی کریمی, en: Mehdi Karimi}
    title: {fa: رئیس ایمنی و آتش‌نشانی, en: Head of safety and fire}
    chats: {bale: 1000005502}
    phone: "0935 000 5502"
  mgmt.rahmani:
    name: {fa: پروین رحمانی, en: Parvin Rahmani}
    title: {fa: مدیرعامل, en: Chief executive}
    chats: {bale: 1000005503}
    email: p.rahmani@example.com
  staff.nouri:
    name: {fa: اکبر نوری, en: Akbar Nouri}
    title: {fa: سرپرست شیفت, en: Shift supervisor}
    phone: "0901 000 5504"
  auth.crisis-hq:
    name: {fa: اداره‌کل مدیریت بحران استان تهران, en: Tehran Province Crisis Management Directorate}
    phone: "0912 000 5505"
    email: crisis-ops@example.org
  press.desk:
    name: {fa: خبرگزاری نمونه — میز استان تهران, en: Sample news agency — Tehran desk}
    email: news-desk@example.com
"""

SAMPLE_PLAYBOOK = """\
factory:
  id: eslamshahr-glass
  name: {fa: شیشهٔ اسلامشهر, en: Eslamshahr Glass}
  officers: [officer.hosseini]

audiences:
  emergency_team:
    name: {fa: تیم واکنش اضطراری, en: Emergency team}
    members: [hse.karimi]
    ack: {within: 5m, escalate_to: management}
  management:
    name: {fa: مدیران, en: Management}
    members: [mgmt.rahmani]
  staff:
    name: {fa: کارکنان, en: Staff}
    members: [staff.nouri]
  authorities:
    name: {fa: مراجع رسمی, en: Authorities}
    members: [auth.crisis-hq]
    external: true
  press:
    name: {fa: رسانه‌ها, en: Press}
    members: [press.desk]
    external: true

incidents:
  fire:
    name: {fa: آتش‌سوزی, en: Fire}
    severities:
      major:
        steps:
          - {audience: emergency_team, template: emergency_alert, channels: [bale, sms]}
          - {audience: management, template: management_briefing, channels: [bale, email]}
          - {audience: authorities, template: authority_notice, channels: [email, sms]}
          - {audience: staff, template: staff_alert, channels: [sms]}
          - {audience: press, template: holding_statement, channels: [email], after: 15m}
        update_every: 30m
        tasks:
          - title:
              fa: گزارش کتبی حادثه به تأمین اجتماعی
              en: Report the accident to Social Security in writing
            due: 3 working days

statements:
  update:
    template: press_update
    audiences: [management, authorities, press]
    channels: [email, bale, sms]
  all_clear: {template: all_clear}
  takeover:
    template: authority_referral
    spokesperson:
      fa: سخنگوی ستاد مدیریت بحران استان تهران
      en: spokesperson of the Tehran Province Crisis Management HQ
    phone: "021 8800 1120"

drills:
  - cron: "0 10 * * sat"
    scenario: fire/major
    window: 2h
    audiences: [emergency_team, management]
"""

SAMPLE_SECRETS = """\
messengers:
  - name: bale
    base_url: https://tapi.bale.ai/bot
    token: ${BALE_TOKEN}
  - name: telegram
    token: file:/etc/crisisd/telegram.token
sms:
  gateways:
    - {name: kavenegar, provider: kavenegar, api_key: cred:kavenegar, sender: "10008663"}
smtp:
  host: smtp.example.com
  port: 587
  tls: starttls
  username: crisisd@example.com
  password: cred:smtp-password
  from: {address: crisisd@example.com, name: روابط عمومی}
"""

SAMPLE_APPROVALS = """\
approvals:
  fa/holding_statement.email.j2:
    sha256: 1f0c0e4c27b5e0c3a1b2d6f1e1c2a8e5f4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9
    approved_by: Governor's office PR directorate
    approved_on: '2026-11-27'
"""
