"""Stripe for the platform's tests and local run: localstripe plus what it lacks.

localstripe (PyPI, pinned in scripts/ensure-tools.sh) is a stateful fake of Stripe's API,
but it answers in 2017-era shapes and has no Prices, no Checkout Sessions, never sends
`customer.subscription.updated`, never sets `trialing`, and cannot renew a subscription.
This module extends localstripe's own aiohttp app (no fork, no copy) with:

- **Prices** (`/v1/prices`), shaped as Stripe's current API (`testdata/stripe/objects.json`),
  each backed by a localstripe Plan with the same id (in real Stripe too, a recurring Price
  is also readable as a Plan of the same id), so subscriptions work on them;
- **Checkout Sessions** (`/v1/checkout/sessions`, `mode=subscription|setup`, expire, list),
  with a **Checkout stand-in page** at `/checkout/pay/<id>` (the session's `url`) where a
  browser "pays" with a test card number, and a test-only completion step
  (`POST /_test/checkout/sessions/<id>/complete`) that creates the subscription (or saves the
  card) in localstripe and sends `checkout.session.completed`;
- the current API's request parameters where the platform uses them and localstripe does
  not know them (`items[][price]`, `proration_behavior`, `default_payment_method` on
  subscription updates and invoice previews): translated, never silently dropped when they
  change the outcome;
- `customer.subscription.updated` events whenever a subscription changes, with
  `previous_attributes`, as Stripe sends them;
- `hosted_invoice_url`, `invoice_pdf` and `number` on invoices, served by this process;
- **webhooks signed with Stripe's official library** (PyPI `stripe`,
  `WebhookSignature.generate_signature_header`), after `--webhook-delay` seconds;
- **idempotency keys** as Stripe keeps them (localstripe ignores them): the first answer
  to a POST is replayed for the same key and parameters, other parameters are refused;
- test helpers under `/_test/` (no API key): `subscriptions/<id>/renew` (the period ends:
  the renewal invoice is charged to the default card, or the subscription ends when it was
  cancelled at period end), `events/<id>/deliver` (redeliver a stored event N times, also
  concurrently), `sign` (sign payloads with the official library), `requests` (method,
  path, `Stripe-Version` and `Idempotency-Key` of every API request), `clock` (read).

State stays in memory; localstripe's pickle goes to `$TMPDIR/localstripe.pickle` (the
upstream code writes a hard-coded `/tmp/localstripe.pickle` on every change), so give each
run its own TMPDIR. `DELETE /_config/data` empties everything.

Run: python localstripe_ext.py --port 0 [--webhook-delay 0.05]
It binds 127.0.0.1 only and prints `localstripe listening on http://127.0.0.1:<port>`.
"""

import argparse
import asyncio
import copy
import html
import json
import os
import pickle
import socket
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime

import aiohttp
import stripe
from aiohttp import web
from dateutil.relativedelta import relativedelta

import localstripe.webhooks as ls_webhooks
from localstripe import resources as R
from localstripe.errors import UserError
from localstripe.server import app, get_post_data, json_response, unflatten_data

# Filled in by main(): where this server is reachable (for session and invoice URLs).
BASE_URL = {'value': 'http://127.0.0.1'}
WEBHOOK_DELAY = {'value': 1.0}

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'testdata',
                        'stripe', 'objects.json')


def _fixture_keys(name):
    """Top-level keys of an object in the current API (so our exports have the same set)."""
    try:
        with open(FIXTURES) as f:
            return list(json.load(f)[name].keys())
    except (OSError, KeyError, ValueError):
        return []


def stripe_error(status, message, param=None, code=None, type_='invalid_request_error'):
    contents = {'message': message, 'type': type_}
    if param is not None:
        contents['param'] = param
    if code is not None:
        contents['code'] = code
    return UserError(status, message, contents)


def unknown_params(data, allowed):
    for key in data:
        if key not in allowed:
            raise stripe_error(400, 'Received unknown parameter: %s' % key, param=key)


def as_int(value, param):
    v = R.try_convert_to_int(value)
    if type(v) is not int:
        raise stripe_error(400, 'Invalid integer: %s' % value, param=param)
    return v


# --- localstripe's store: per-run pickle, written once per request -----------------------

def _pickle_path():
    return os.path.join(tempfile.gettempdir(), 'localstripe.pickle')


def _dump_to_disk(self):
    with open(_pickle_path(), 'wb') as f:
        pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)


R.Store.dump_to_disk = _dump_to_disk
R.Store.try_load_from_disk = lambda self: None
R.Store.__setitem__ = dict.__setitem__
R.Store.__delitem__ = dict.__delitem__


# --- webhooks: signed with Stripe's official library -------------------------------------

async def _post_event(session, webhook, payload):
    header = stripe.WebhookSignature.generate_signature_header(payload, webhook.secret)
    headers = {'Content-Type': 'application/json; charset=utf-8',
               'Stripe-Signature': header}
    try:
        async with session.post(webhook.url, data=payload.encode('utf-8'),
                                headers=headers) as r:
            return r.status
    except aiohttp.ClientError as e:
        print('webhook delivery to %s failed: %s' % (webhook.url, e), file=sys.stderr)
        return 0


async def _send_webhook(event):
    payload = json.dumps(event._export(), indent=2, sort_keys=True)
    await asyncio.sleep(WEBHOOK_DELAY['value'])
    async with aiohttp.ClientSession() as session:
        for webhook in list(ls_webhooks._webhooks.values()):
            if webhook.events is not None and event.type not in webhook.events:
                continue
            await _post_event(session, webhook, payload)


ls_webhooks._send_webhook = _send_webhook


def emit(type_, obj, previous=None):
    event = R.Event(type_, obj)
    if previous is not None:
        event.data['previous_attributes'] = previous
    R.schedule_webhook(event)
    return event


# --- subscriptions: explicit periods, trials ---------------------------------------------

_original_current_period = R.SubscriptionItem._current_period


def _current_period(self):
    sub = R.store.get('subscription:' + (self._subscription or ''))
    if sub is not None and getattr(sub, '_period_start', None) is not None:
        return dict(start=sub._period_start, end=sub._period_end)
    return _original_current_period(self)


R.SubscriptionItem._current_period = _current_period

# Fields whose change makes Stripe send customer.subscription.updated.
WATCHED = ('status', 'cancel_at_period_end', 'cancel_at', 'canceled_at', 'ended_at',
           'trial_end', 'current_period_start', 'current_period_end', 'latest_invoice',
           'default_payment_method')


def _subscription_state(sub):
    state = {k: getattr(sub, k, None) for k in WATCHED}
    state['items'] = [(i.plan.id, i.quantity) for i in sub.items._list]
    return state


def _snapshot():
    return {key: _subscription_state(obj) for key, obj in R.store.items()
            if key.startswith('subscription:')}


def _emit_subscription_updates(before):
    for key, old in before.items():
        sub = R.store.get(key)
        if sub is None:
            continue
        new = _subscription_state(sub)
        if new == old:
            continue
        previous = {k: v for k, v in old.items() if new.get(k) != v and k != 'items'}
        if new['items'] != old['items']:
            previous['items'] = {'object': 'list', 'data': [
                {'plan': {'id': plan}, 'price': {'id': plan}, 'quantity': q}
                for plan, q in old['items']]}
        if sub.status == 'canceled' and old['status'] != 'canceled':
            continue  # localstripe sends customer.subscription.deleted itself
        emit('customer.subscription.updated', sub, previous)


# --- products: localstripe stores form booleans of an update as strings ("true") --------

_product_update = R.Product._update


def _product_update_typed(self, **data):
    for key in ('active', 'shippable'):
        if key in data:
            data[key] = R.try_convert_to_bool(data[key])
            if type(data[key]) is not bool:
                raise stripe_error(400, 'Invalid boolean: %s' % key, param=key)
    return _product_update(self, **data)


R.Product._update = _product_update_typed


# --- invoices: hosted page, PDF and number -----------------------------------------------

R.Invoice.hosted_invoice_url = property(
    lambda self: None if self.id is None or str(self.id).startswith('upcoming_')
    else '%s/invoice/%s' % (BASE_URL['value'], self.id))
R.Invoice.invoice_pdf = property(
    lambda self: None if self.id is None or str(self.id).startswith('upcoming_')
    else '%s/invoice/%s/pdf' % (BASE_URL['value'], self.id))
R.Invoice.number = property(
    lambda self: None if self.status == 'draft' or self.id is None
    else 'LS-%s' % str(self.id)[-8:].upper())


# --- Prices ------------------------------------------------------------------------------

class Price(R.StripeObject):
    object = 'price'
    _id_prefix = 'price_'
    _keys = _fixture_keys('price')

    def __init__(self, product=None, unit_amount=None, currency=None, recurring=None,
                 lookup_key=None, nickname=None, metadata=None, active=True,
                 transfer_lookup_key=None, tax_behavior=None, billing_scheme=None,
                 product_data=None, **kwargs):
        unknown_params(kwargs, ())
        if product is None and product_data is None:
            raise stripe_error(400, 'Missing required param: product.', param='product')
        if unit_amount is None:
            raise stripe_error(400, 'Missing required param: unit_amount.', param='unit_amount')
        unit_amount = as_int(unit_amount, 'unit_amount')
        if unit_amount < 0:
            raise stripe_error(400, 'Invalid unit_amount', param='unit_amount')
        if not isinstance(currency, str) or len(currency) != 3:
            raise stripe_error(400, 'Missing required param: currency.', param='currency')
        active = R.try_convert_to_bool(active)
        transfer = R.try_convert_to_bool(transfer_lookup_key) is True
        if recurring is not None:
            if not isinstance(recurring, dict) or recurring.get('interval') not in (
                    'day', 'week', 'month', 'year'):
                raise stripe_error(400, 'Invalid recurring[interval]',
                                   param='recurring[interval]')
            interval_count = as_int(recurring.get('interval_count', 1),
                                    'recurring[interval_count]')
        if product_data is not None:
            product = R.Product(name=product_data.get('name'),
                                metadata=product_data.get('metadata')).id
        R.Product._api_retrieve(product)  # 404 when absent
        holder = _price_with_lookup_key(lookup_key) if lookup_key else None
        if holder is not None and not transfer:
            raise stripe_error(
                400, 'A price (`%s`) already uses that lookup key.' % holder.id,
                param='lookup_key')

        super().__init__()
        if holder is not None:
            holder.lookup_key = None
        self.active = active
        self.billing_scheme = billing_scheme or 'per_unit'
        self.currency = currency.lower()
        self.custom_unit_amount = None
        self.lookup_key = lookup_key
        self.metadata = metadata or {}
        self.nickname = nickname
        self.product = product
        self.recurring = None
        if recurring is not None:
            self.recurring = {'interval': recurring['interval'],
                              'interval_count': interval_count,
                              'meter': None, 'trial_period_days': None,
                              'usage_type': 'licensed'}
        self.tax_behavior = tax_behavior or 'unspecified'
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = 'recurring' if recurring is not None else 'one_time'
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)
        if recurring is not None:
            # Subscriptions in localstripe are made of Plans: one per recurring price.
            R.Plan(id=self.id, product=product, amount=unit_amount, currency=self.currency,
                   interval=recurring['interval'], interval_count=interval_count,
                   nickname=nickname, active=active)
        emit('price.created', self)

    def _export(self, expand=None):
        out = super()._export(expand=expand)
        for key in self._keys:
            out.setdefault(key, None)
        return out

    def _update(self, active=None, metadata=None, lookup_key=None, nickname=None,
                transfer_lookup_key=None, tax_behavior=None, **kwargs):
        unknown_params(kwargs, ())
        if lookup_key is not None and lookup_key != self.lookup_key:
            holder = _price_with_lookup_key(lookup_key)
            if holder is not None and R.try_convert_to_bool(transfer_lookup_key) is not True:
                raise stripe_error(
                    400, 'A price (`%s`) already uses that lookup key.' % holder.id,
                    param='lookup_key')
            if holder is not None:
                holder.lookup_key = None
            self.lookup_key = lookup_key or None
        if active is not None:
            self.active = R.try_convert_to_bool(active)
            plan = R.store.get('plan:' + self.id)
            if plan is not None:
                plan.active = self.active
        if metadata:
            self.metadata = dict(self.metadata or {}, **metadata)
        if nickname is not None:
            self.nickname = nickname
        if tax_behavior is not None:
            self.tax_behavior = tax_behavior
        emit('price.updated', self)

    @classmethod
    def _api_delete(cls, id):
        raise stripe_error(405, 'Prices cannot be deleted; archive them (active=false).')

    @classmethod
    def _api_list_all(cls, url, limit=None, starting_after=None, active=None,
                      product=None, lookup_keys=None, type=None, currency=None, **kwargs):
        unknown_params(kwargs, ())
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        if active is not None:
            active = R.try_convert_to_bool(active)
            li._list = [p for p in li._list if p.active == active]
        if product is not None:
            li._list = [p for p in li._list if p.product == product]
        if lookup_keys is not None:
            keys = lookup_keys if isinstance(lookup_keys, list) else [lookup_keys]
            li._list = [p for p in li._list if p.lookup_key in keys]
        if type is not None:
            li._list = [p for p in li._list if p.type == type]
        if currency is not None:
            li._list = [p for p in li._list if p.currency == currency.lower()]
        li._list.sort(key=lambda p: p.created, reverse=True)
        return li


def _price_with_lookup_key(key):
    for k, obj in R.store.items():
        if k.startswith('price:') and obj.lookup_key == key:
            return obj
    return None


# --- Checkout Sessions -------------------------------------------------------------------

CHECKOUT_PARAMS = {
    'mode', 'customer', 'customer_email', 'client_reference_id', 'success_url', 'cancel_url',
    'line_items', 'metadata', 'subscription_data', 'setup_intent_data', 'currency',
    'payment_method_types', 'expires_at', 'locale', 'allow_promotion_codes',
    'billing_address_collection', 'customer_update', 'ui_mode', 'payment_method_collection',
}


class CheckoutSession(R.StripeObject):
    object = 'checkout.session'
    _id_prefix = 'cs_test_'
    _keys = _fixture_keys('checkout.session')

    def __init__(self, **data):
        unknown_params(data, CHECKOUT_PARAMS)
        mode = data.get('mode')
        if mode not in ('subscription', 'setup', 'payment'):
            raise stripe_error(400, 'Missing required param: mode.', param='mode')
        if mode == 'payment':
            raise stripe_error(400, 'mode=payment is not supported by this stand-in.',
                               param='mode')
        success_url = data.get('success_url')
        if not isinstance(success_url, str) or not success_url.startswith('http'):
            raise stripe_error(400, 'Missing required param: success_url.',
                               param='success_url')
        customer = data.get('customer')
        if customer is not None:
            R.Customer._api_retrieve(customer)
        if customer is not None and data.get('customer_email') is not None:
            raise stripe_error(400, 'You may only specify one of these parameters: '
                               'customer, customer_email.', param='customer_email')
        line_items = data.get('line_items') or []
        price = None
        if mode == 'subscription':
            if len(line_items) != 1 or not isinstance(line_items[0], dict):
                raise stripe_error(400, 'This stand-in takes exactly one line item.',
                                   param='line_items')
            price = Price._api_retrieve(line_items[0].get('price') or '')
            if not price.active:
                raise stripe_error(400, 'The price specified is inactive. This field only '
                                   'accepts active prices.', param='line_items[0][price]')
            if price.type != 'recurring':
                raise stripe_error(400, 'mode=subscription needs a recurring price.',
                                   param='line_items[0][price]')
            quantity = as_int(line_items[0].get('quantity', 1), 'line_items[0][quantity]')
            if quantity != 1:
                raise stripe_error(400, 'This stand-in sells quantity 1.',
                                   param='line_items[0][quantity]')
        elif line_items:
            raise stripe_error(400, 'line_items is not allowed in setup mode.',
                               param='line_items')
        if mode == 'setup' and not (data.get('currency') or data.get('payment_method_types')):
            raise stripe_error(400, 'currency is required in setup mode.', param='currency')
        subscription_data = data.get('subscription_data') or {}
        trial_days = subscription_data.get('trial_period_days')
        if trial_days is not None:
            trial_days = as_int(trial_days, 'subscription_data[trial_period_days]')
            if trial_days < 1 or trial_days > 730:
                raise stripe_error(400, 'trial_period_days must be from 1 to 730.',
                                   param='subscription_data[trial_period_days]')
        now = int(time.time())
        expires_at = data.get('expires_at')
        if expires_at is not None:
            expires_at = as_int(expires_at, 'expires_at')
            if not now + 1800 <= expires_at <= now + 86400:
                raise stripe_error(400, 'expires_at must be 30 minutes to 24 hours away.',
                                   param='expires_at')
        else:
            expires_at = now + 86400

        super().__init__()
        self.mode = mode
        self.status = 'open'
        self.payment_status = 'unpaid' if mode == 'subscription' else 'no_payment_required'
        self.customer = customer
        self.customer_email = data.get('customer_email')
        self.client_reference_id = data.get('client_reference_id')
        self.success_url = success_url
        self.cancel_url = data.get('cancel_url')
        self.metadata = data.get('metadata') or {}
        self.expires_at = expires_at
        self.currency = price.currency if price else (data.get('currency') or None)
        self.amount_subtotal = price.unit_amount if price else None
        self.amount_total = (0 if trial_days else price.unit_amount) if price else None
        self.subscription = None
        self.setup_intent = None
        self.payment_intent = None
        self.invoice = None
        self.locale = data.get('locale')
        self.ui_mode = 'hosted'
        self.payment_method_types = data.get('payment_method_types') or ['card']
        self._price = price.id if price else None
        self._trial_days = trial_days
        self._subscription_metadata = subscription_data.get('metadata') or {}
        self._setup_metadata = (data.get('setup_intent_data') or {}).get('metadata') or {}

    @property
    def url(self):
        if self.status != 'open':
            return None
        return '%s/checkout/pay/%s' % (BASE_URL['value'], self.id)

    def _export(self, expand=None):
        self._expire_if_due()
        out = super()._export(expand=expand)
        for key in self._keys:
            out.setdefault(key, None)
        return out

    def _expire_if_due(self):
        if self.status == 'open' and time.time() >= self.expires_at:
            self._expire()

    def _expire(self):
        self.status = 'expired'
        emit('checkout.session.expired', self)

    @classmethod
    def _api_update(cls, id, **data):
        raise stripe_error(400, 'Checkout Sessions cannot be changed here.')

    @classmethod
    def _api_delete(cls, id):
        raise stripe_error(405, 'Checkout Sessions cannot be deleted.')

    @classmethod
    def _api_expire(cls, id, **kwargs):
        unknown_params(kwargs, ())
        obj = cls._api_retrieve(id)
        obj._expire_if_due()
        if obj.status != 'open':
            raise stripe_error(400, 'Only Checkout Sessions with a status in ["open"] can be '
                               'expired. This Checkout Session has a status of "%s".'
                               % obj.status)
        obj._expire()
        return obj

    @classmethod
    def _api_list_all(cls, url, limit=None, starting_after=None, customer=None,
                      subscription=None, status=None, **kwargs):
        unknown_params(kwargs, ())
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        for obj in li._list:
            obj._expire_if_due()
        if customer is not None:
            li._list = [s for s in li._list if s.customer == customer]
        if subscription is not None:
            li._list = [s for s in li._list if s.subscription == subscription]
        if status is not None:
            li._list = [s for s in li._list if s.status == status]
        li._list.sort(key=lambda s: s.created, reverse=True)
        return li

    def _complete(self, payment_method):
        """What Stripe does when the customer submits the Checkout page."""
        self._expire_if_due()
        if self.status != 'open':
            raise stripe_error(400, 'This Checkout Session is %s.' % self.status)
        pm = R.PaymentMethod._api_retrieve(payment_method)
        customer = self.customer
        if customer is None:
            customer = R.Customer(email=self.customer_email).id
        if pm._attaching_is_declined():
            raise stripe_error(402, 'Your card was declined.', code='card_declined',
                               type_='card_error')
        if self.mode == 'subscription':
            if self._trial_days is None and pm._charging_is_declined():
                raise stripe_error(402, 'Your card was declined.', code='card_declined',
                                   type_='card_error')
            R.PaymentMethod._api_attach(pm.id, customer=customer)
            R.Customer._api_update(customer, invoice_settings={'default_payment_method': pm.id})
            metadata = dict(self._subscription_metadata)
            if self._trial_days:
                sub = R.Subscription(customer=customer, items=[{'plan': self._price}],
                                     metadata=metadata, trial_period_days=self._trial_days)
                # localstripe never sets `trialing`; Stripe does, with the trial as period.
                now = int(time.time())
                sub.status = 'trialing'
                sub.trial_start = now
                sub.trial_end = now + self._trial_days * 86400
                sub._period_start = now
                sub._period_end = sub.trial_end
                self.payment_status = 'no_payment_required'
            else:
                sub = R.Subscription(customer=customer, items=[{'plan': self._price}],
                                     metadata=metadata)
                if sub.status != 'active':
                    raise stripe_error(402, 'Your card was declined.', code='card_declined',
                                       type_='card_error')
                self.payment_status = 'paid'
                self.invoice = sub.latest_invoice
            sub.default_payment_method = pm.id
            self.subscription = sub.id
        else:
            intent = R.SetupIntent(customer=customer, metadata=dict(self._setup_metadata))
            R.SetupIntent._api_confirm(intent.id, payment_method=pm.id)
            R.PaymentMethod._api_attach(pm.id, customer=customer)
            self.setup_intent = intent.id
        self.customer = customer
        self.status = 'complete'
        emit('checkout.session.completed', self)
        return self


# --- current-API parameters on localstripe's own routes ----------------------------------

def _prices_to_plans(items):
    if not isinstance(items, list):
        return items
    for item in items:
        if isinstance(item, dict) and 'price' in item:
            item['plan'] = item.pop('price')
    return items


async def update_subscription(request):
    sub = R.Subscription._api_retrieve(request.match_info['id'])
    data = await get_post_data(request) or {}
    expand = data.pop('expand', None)
    behavior = data.pop('proration_behavior', 'create_prorations')
    if behavior not in ('create_prorations', 'none', 'always_invoice'):
        raise stripe_error(400, 'Invalid proration_behavior', param='proration_behavior')
    data.pop('payment_behavior', None)
    default_pm = data.pop('default_payment_method', None)
    if default_pm is not None:
        if default_pm:
            R.PaymentMethod._api_retrieve(default_pm)
        sub.default_payment_method = default_pm or None
    if 'items' in data:
        _prices_to_plans(data['items'])
    pending_before = {k for k in R.store if k.startswith('invoiceitem:')}
    if data:
        R.Subscription._api_update(sub.id, **data)
    new_items = [R.store[k] for k in R.store
                 if k.startswith('invoiceitem:') and k not in pending_before]
    if behavior == 'none':
        for ii in new_items:
            del R.store['invoiceitem:' + ii.id]
    elif behavior == 'always_invoice' and new_items:
        invoice = R.Invoice._api_create(customer=sub.customer, subscription=sub.id)
        invoice._finalize()
        if invoice.status != 'paid':
            R.Invoice._api_pay_invoice(invoice.id)
        sub.latest_invoice = invoice.id
    return json_response(sub._export(expand=expand))


async def create_preview(request):
    data = await get_post_data(request) or {}
    details = data.get('subscription_details')
    if isinstance(details, dict):
        _prices_to_plans(details.get('items'))
        for key in ('proration_behavior', 'billing_cycle_anchor'):
            details.pop(key, None)
    if data.get('customer') is None and data.get('subscription'):
        data['customer'] = R.Subscription._api_retrieve(data['subscription']).customer
    expand = data.pop('expand', None)
    invoice = R.Invoice._api_create_preview_invoice(**data)
    return json_response(invoice._export(expand=expand))


async def create_price(request):
    data = await get_post_data(request) or {}
    expand = data.pop('expand', None)
    return json_response(Price(**data)._export(expand=expand))


async def create_session(request):
    data = await get_post_data(request) or {}
    expand = data.pop('expand', None)
    return json_response(CheckoutSession(**data)._export(expand=expand))


async def expire_session(request):
    data = await get_post_data(request) or {}
    return json_response(CheckoutSession._api_expire(request.match_info['id'], **data)._export())


def _retrieve(cls):
    def f(request):
        data = unflatten_data(request.query)
        expand = data.pop('expand', None)
        return json_response(cls._api_retrieve(request.match_info['id'])._export(expand=expand))
    return f


def _list(cls, url):
    def f(request):
        data = unflatten_data(request.query)
        expand = data.pop('expand', None)
        return json_response(cls._api_list_all(url, **data)._export(expand=expand))
    return f


async def _update(cls, request):
    data = await get_post_data(request) or {}
    expand = data.pop('expand', None)
    obj = cls._api_retrieve(request.match_info['id'])
    obj._update(**data)
    return json_response(obj._export(expand=expand))


# After localstripe's authentication: (method, path pattern) -> handler.
V1_ROUTES = [
    ('POST', '/v1/prices', create_price),
    ('GET', '/v1/prices', _list(Price, '/v1/prices')),
    ('GET', '/v1/prices/{id}', _retrieve(Price)),
    ('POST', '/v1/prices/{id}', lambda r: _update(Price, r)),
    ('POST', '/v1/checkout/sessions', create_session),
    ('GET', '/v1/checkout/sessions', _list(CheckoutSession, '/v1/checkout/sessions')),
    ('GET', '/v1/checkout/sessions/{id}', _retrieve(CheckoutSession)),
    ('POST', '/v1/checkout/sessions/{id}/expire', expire_session),
    ('POST', '/v1/subscriptions/{id}', update_subscription),
    ('POST', '/v1/invoices/create_preview', create_preview),
]


def _match(routes, method, path):
    parts = path.rstrip('/').split('/')
    for m, pattern, handler in routes:
        if m != method:
            continue
        pp = pattern.split('/')
        if len(pp) != len(parts):
            continue
        info = {}
        for a, b in zip(pp, parts):
            if a.startswith('{'):
                if not b:
                    break
                info[a[1:-1]] = urllib.parse.unquote(b)
            elif a != b:
                break
        else:
            return handler, info
    return None, None


@web.middleware
async def current_api_middleware(request, handler):
    """Runs inside localstripe's auth, error and store middlewares."""
    own, info = _match(V1_ROUTES, request.method, request.path)
    if own is None:
        return await handler(request)
    request.match_info.update(info)
    result = own(request)
    if asyncio.iscoroutine(result):
        result = await result
    return result


# --- the Checkout stand-in page, hosted invoices, test helpers (no API key) --------------

CARDS = {
    '4242424242424242': 'visa',
    '4000000000000002': 'declined at once',
    '4000000000000341': 'attaches, then every charge fails',
}


def _card_payment_method(number):
    number = ''.join(ch for ch in (number or '') if ch.isdigit())
    if len(number) != 16:
        raise stripe_error(402, 'Your card number is incomplete.', code='incorrect_number',
                           type_='card_error')
    return R.PaymentMethod(type='card', card={'number': number, 'exp_month': '12',
                                              'exp_year': '2030', 'cvc': '123'}).id


def _page(title, body, status=200):
    return web.Response(status=status, content_type='text/html', text=(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title>'
        '<style>body{font-family:sans-serif;max-width:32rem;margin:3rem auto}'
        '.error{color:#b00020}label,input,button{display:block;margin:.5rem 0}</style>'
        '</head><body><p><em>Stripe Checkout stand-in (localstripe, test mode)</em></p>%s'
        '</body></html>' % (html.escape(title), body)))


def _describe(session):
    if session.mode == 'setup':
        return 'Save a card for future payments.'
    price = Price._api_retrieve(session._price)
    product = R.Product._api_retrieve(price.product)
    text = '%s: %s %.2f per %s' % (product.name, price.currency.upper(),
                                   price.unit_amount / 100, price.recurring['interval'])
    if session._trial_days:
        text += ', %d days free' % session._trial_days
    return text


def _checkout_form(session, error=None):
    return _page('Pay', ''.join([
        '<h1 data-testid="checkout-title">%s</h1>' % (
            'Save your card' if session.mode == 'setup' else 'Subscribe'),
        '<p data-testid="checkout-summary">%s</p>' % html.escape(_describe(session)),
        '<p class="error" role="alert">%s</p>' % html.escape(error) if error else '',
        '<form method="post"><label for="card">Card number</label>',
        '<input id="card" name="card" autocomplete="off" value="4242 4242 4242 4242">',
        '<button type="submit" id="submit">%s</button></form>' % (
            'Save card' if session.mode == 'setup' else 'Pay and subscribe'),
        '<p>Test cards: %s</p>' % ', '.join('%s (%s)' % kv for kv in CARDS.items()),
        '<p><a id="cancel" href="%s">Back</a></p>' % html.escape(session.cancel_url or '#'),
    ]), status=402 if error else 200)


def _success_redirect(session):
    target = session.success_url.replace('{CHECKOUT_SESSION_ID}', session.id)
    raise web.HTTPSeeOther(target)


async def checkout_page(request):
    try:
        session = CheckoutSession._api_retrieve(request.match_info['id'])
    except UserError:
        return _page('Not found', '<h1>This checkout link is not valid.</h1>', 404)
    session._expire_if_due()
    if session.status != 'open':
        return _page('Unavailable', '<h1 data-testid="checkout-closed">This checkout '
                     'session is %s.</h1>' % html.escape(session.status), 410)
    if request.method == 'GET':
        return _checkout_form(session)
    form = await request.post()
    try:
        session._complete(_card_payment_method(form.get('card')))
    except UserError as e:
        return _checkout_form(session, e.body['error'].get('message', 'Payment failed.'))
    _success_redirect(session)


async def invoice_page(request):
    try:
        invoice = R.Invoice._api_retrieve(request.match_info['id'])
    except UserError:
        return _page('Not found', '<h1>No such invoice.</h1>', 404)
    if request.match_info.get('pdf'):
        return web.Response(body=_tiny_pdf('Invoice %s: %s %.2f (%s)' % (
            invoice.number, invoice.currency.upper(), invoice.total / 100, invoice.status)),
            content_type='application/pdf')
    return _page('Invoice', '<h1>Invoice %s</h1><p>%s %.2f, %s</p>' % (
        html.escape(str(invoice.number)), html.escape(invoice.currency.upper()),
        invoice.total / 100, html.escape(invoice.status)))


def _tiny_pdf(text):
    text = text.replace('\\', '\\\\').replace('(', '\\(').replace(')', '\\)')
    stream = 'BT /F1 12 Tf 72 720 Td (%s) Tj ET' % text
    objects = [
        '<< /Type /Catalog /Pages 2 0 R >>',
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R '
        '/Resources << /Font << /F1 5 0 R >> >> >>',
        '<< /Length %d >>\nstream\n%s\nendstream' % (len(stream), stream),
        '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ]
    out, offsets = '%PDF-1.4\n', []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += '%d 0 obj\n%s\nendobj\n' % (i, obj)
    xref = len(out)
    out += 'xref\n0 %d\n0000000000 65535 f \n' % (len(objects) + 1)
    out += ''.join('%010d 00000 n \n' % o for o in offsets)
    out += 'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' % (
        len(objects) + 1, xref)
    return out.encode('latin-1')


async def test_complete(request):
    data = await get_post_data(request) or {}
    session = CheckoutSession._api_retrieve(request.match_info['id'])
    pm = data.get('payment_method') or 'pm_card_visa'
    if data.get('card'):
        pm = _card_payment_method(data['card'])
    return json_response(session._complete(pm)._export())


def _advance(ts, interval, count):
    step = {'day': relativedelta(days=count), 'week': relativedelta(weeks=count),
            'month': relativedelta(months=count), 'year': relativedelta(years=count)}
    return int((datetime.fromtimestamp(ts) + step[interval]).timestamp())


async def test_renew(request):
    """The subscription's current period ends now (Stripe's test clocks do this)."""
    sub = R.Subscription._api_retrieve(request.match_info['id'])
    if sub.status in ('canceled', 'incomplete_expired'):
        raise stripe_error(400, 'The subscription has ended.')
    end = sub.current_period_end
    if sub.cancel_at_period_end:
        # It ends now (the period's end is simulated, not waited for).
        R.Subscription._api_delete(sub.id)
        return json_response(sub._export())
    plan = sub.items._list[0].plan
    sub._period_start = end
    sub._period_end = _advance(end, plan.interval, plan.interval_count)
    if sub.status == 'trialing':
        sub.status = 'active'  # the trial is over: the first invoice decides
    sub._create_invoice()
    invoice = R.Invoice._api_retrieve(sub.latest_invoice)
    if invoice.status == 'open':
        # localstripe's renewal path charges without telling anyone; Stripe tells.
        emit('invoice.payment_failed', invoice)
        sub.status = 'past_due'
    return json_response(sub._export())


async def test_deliver(request):
    """Redelivers a stored event `times` times (in parallel with concurrent=true)."""
    data = await get_post_data(request) or {}
    event = R.Event._api_retrieve(request.match_info['id'])
    times = as_int(data.get('times', 1), 'times')
    concurrent = R.try_convert_to_bool(data.get('concurrent', False)) is True
    payload = json.dumps(event._export(), indent=2, sort_keys=True)
    statuses = []
    async with aiohttp.ClientSession() as session:
        for webhook in list(ls_webhooks._webhooks.values()):
            if concurrent:
                statuses += await asyncio.gather(
                    *[_post_event(session, webhook, payload) for _ in range(times)])
            else:
                for _ in range(times):
                    statuses.append(await _post_event(session, webhook, payload))
    return json_response({'statuses': statuses})


async def test_sign(request):
    """Signs payloads with the official library: {secret, payload | payloads[], timestamp?}."""
    data = await request.json()
    secret, ts = data['secret'], data.get('timestamp')
    if 'payloads' in data:
        return json_response({'headers': [
            stripe.WebhookSignature.generate_signature_header(p, secret, ts)
            for p in data['payloads']]})
    return json_response({'header': stripe.WebhookSignature.generate_signature_header(
        data['payload'], secret, ts)})


async def test_clock(request):
    return json_response({'now': int(time.time())})


# Idempotency keys, as Stripe keeps them (localstripe ignores them): per API key, the
# first answer to a POST is replayed for the same key and parameters; the same key with
# other parameters is refused.
IDEMPOTENT = {}
# What API requests carried (for tests): method, path, Stripe-Version, Idempotency-Key,
# User-Agent.
REQUESTS = []


async def _idempotent(request, run):
    key = request.headers.get('Idempotency-Key')
    if request.method != 'POST' or not request.path.startswith('/v1/') or not key:
        return await run()
    scope = (request.headers.get('Authorization', ''), key)
    fingerprint = (request.path, await request.read())
    if scope in IDEMPOTENT:
        seen, status, body, content_type = IDEMPOTENT[scope]
        if seen != fingerprint:
            raise stripe_error(400, 'Keys for idempotent requests can only be used with the '
                               'same parameters they were first used with. Try using a key '
                               'other than \'%s\' if you meant to execute a different '
                               'request.' % key, type_='idempotency_error')
        response = web.Response(status=status, body=body, content_type=content_type)
        response.headers['Idempotent-Replayed'] = 'true'
        return response
    response = await run()
    if response.status < 500 and isinstance(response, web.Response):
        IDEMPOTENT[scope] = (fingerprint, response.status, response.body,
                             response.content_type)
    return response


async def test_requests(request):
    return json_response({'requests': REQUESTS})


OWN_ROUTES = [
    ('GET', '/checkout/pay/{id}', checkout_page),
    ('POST', '/checkout/pay/{id}', checkout_page),
    ('GET', '/invoice/{id}', invoice_page),
    ('GET', '/invoice/{id}/{pdf}', invoice_page),
    ('POST', '/_test/checkout/sessions/{id}/complete', test_complete),
    ('POST', '/_test/subscriptions/{id}/renew', test_renew),
    ('POST', '/_test/events/{id}/deliver', test_deliver),
    ('POST', '/_test/sign', test_sign),
    ('GET', '/_test/clock', test_clock),
    ('GET', '/_test/requests', test_requests),
]


@web.middleware
async def outer_middleware(request, handler):
    """Outside localstripe's middlewares: our pages and helpers (no API key, like
    checkout.stripe.com), idempotency keys, and the subscription events of every change."""
    if request.path.startswith('/v1/'):
        REQUESTS.append({'method': request.method, 'path': request.path,
                         'stripe_version': request.headers.get('Stripe-Version'),
                         'idempotency_key': request.headers.get('Idempotency-Key'),
                         'user_agent': request.headers.get('User-Agent')})
    mutating = request.method in ('POST', 'DELETE')
    before = _snapshot() if mutating else None
    own, info = _match(OWN_ROUTES, request.method, request.path)

    async def run():
        try:
            return await handler(request)
        except UserError as e:
            return e.to_response()

    try:
        if own is not None:
            request.match_info.update(info)
            response = await own(request)
        else:
            response = await _idempotent(request, run)
    except UserError as e:
        response = e.to_response()
    except web.HTTPException as e:
        if mutating:
            _emit_subscription_updates(before)
        raise e
    if mutating:
        _emit_subscription_updates(before)
        if own is not None:
            R.store.dump_to_disk()
    return response


@web.middleware
async def reset_middleware(request, handler):
    """`DELETE /_config/data` also forgets idempotency keys and recorded requests."""
    if request.method == 'DELETE' and request.path == '/_config/data':
        IDEMPOTENT.clear()
        REQUESTS.clear()
    return await handler(request)


def install():
    app.middlewares.insert(0, reset_middleware)
    app.middlewares.insert(1, outer_middleware)
    app.middlewares.append(current_api_middleware)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--port', type=int, default=8420, help='0 picks a free port')
    parser.add_argument('--webhook-delay', type=float, default=1.0,
                        help='seconds between an event and its delivery (Stripe: ~1 s)')
    args = parser.parse_args()
    WEBHOOK_DELAY['value'] = args.webhook_delay
    install()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', args.port))
    # Listening before the address is printed: a client that reads it and connects at once
    # waits in the backlog until the app accepts, instead of being refused.
    sock.listen(128)
    port = sock.getsockname()[1]
    BASE_URL['value'] = 'http://127.0.0.1:%d' % port
    print('localstripe listening on %s (state: %s)' % (BASE_URL['value'], _pickle_path()),
          flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == '__main__':
    main()
