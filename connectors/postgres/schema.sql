-- The reference schema of the loyalty database (CONTRACT.md §1) as PostgreSQL DDL, with what
-- Debezium's PostgreSQL connector needs to stream it: REPLICA IDENTITY FULL on every table, so
-- updates and deletes carry the complete before image, and the publication "loyaltyhooks" that
-- the connector reads through pgoutput.
--
-- Safe to apply to a fresh database and to apply again: tables are created only when missing,
-- the replica identity is set every time, and the publication is created or reset to exactly
-- these 13 tables.
--
--   psql -v ON_ERROR_STOP=1 -d loyalty -f connectors/postgres/schema.sql
--
-- Foreign keys point from a row to rows that one database transaction writes before it (a
-- member's tier, a transfer's wallet). Links that would make two tables depend on each other
-- (wallet.last_transfer_id, unit_transfer.related_transfer_id) and links to entities outside
-- this schema (tier_set_id, channel_id, campaign_execution_id) have none, so no write order is
-- forced on the application and nothing here can reorder or hold back a change stream.

BEGIN;

CREATE TABLE IF NOT EXISTS public.tenant (
    tenant_id  uuid        PRIMARY KEY,
    code       text        NOT NULL UNIQUE, -- the storeCode of Open Loyalty's API and webhooks
    name       text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.settings (
    tenant_id                        uuid        PRIMARY KEY REFERENCES public.tenant,
    expire_points_notification_days  integer,
    expire_coupons_notification_days integer,
    expire_levels_notification_days  integer,
    updated_at                       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.tier (
    tier_id     uuid    PRIMARY KEY,
    tenant_id   uuid    NOT NULL REFERENCES public.tenant,
    tier_set_id uuid    NOT NULL,
    name        text    NOT NULL,
    rank        integer NOT NULL -- higher is better
);

CREATE TABLE IF NOT EXISTS public.member (
    member_id                  uuid        PRIMARY KEY,
    tenant_id                  uuid        NOT NULL REFERENCES public.tenant,
    active                     boolean     NOT NULL DEFAULT false,
    first_name                 text,
    last_name                  text,
    gender                     text,
    email                      text,
    phone                      text,
    birth_date                 date,
    loyalty_card_number        text,
    registered_at              timestamptz,
    address                    jsonb, -- {street, address1, address2, postal, city, province, country}
    company                    jsonb, -- {name, nip}
    agreement1                 boolean     NOT NULL DEFAULT false,
    agreement2                 boolean     NOT NULL DEFAULT false,
    agreement3                 boolean     NOT NULL DEFAULT false,
    custom_attributes          jsonb, -- [{key, value}]
    referral_token             text,
    level_id                   uuid        REFERENCES public.tier,
    manually_assigned_level_id uuid        REFERENCES public.tier,
    next_recalculation_at      timestamptz,
    projected_level_id         uuid        REFERENCES public.tier, -- tier after the next recalculation
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.member_code (
    code_id     uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES public.tenant,
    member_id   uuid        NOT NULL REFERENCES public.member,
    purpose     text        NOT NULL
        CHECK (purpose IN ('registration', 'activation_resend', 'password_reset',
                           'email_change', 'phone_change')),
    code        text        NOT NULL, -- token for /member/activate/{token} and the like
    code_number text,                 -- short code sent by SMS
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz
);

CREATE TABLE IF NOT EXISTS public.transaction (
    transaction_id  uuid        PRIMARY KEY,
    tenant_id       uuid        NOT NULL REFERENCES public.tenant,
    member_id       uuid        REFERENCES public.member, -- null until matched to a member
    document_number text        NOT NULL,
    document_type   text        NOT NULL CHECK (document_type IN ('sell', 'return')),
    purchased_at    timestamptz NOT NULL,
    gross_value     numeric     NOT NULL,
    channel_id      uuid,
    customer_data   jsonb, -- {email, name, nip, phone, loyaltyCardNumber, address}
    items           jsonb, -- [{sku{code}, name, quantity, grossValue, category, maker, labels[{key, value}]}]
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.wallet (
    wallet_id        uuid        PRIMARY KEY,
    tenant_id        uuid        NOT NULL REFERENCES public.tenant,
    member_id        uuid        NOT NULL REFERENCES public.member,
    wallet_type_code text        NOT NULL,
    active_units     numeric     NOT NULL DEFAULT 0,
    pending_units    numeric     NOT NULL DEFAULT 0,
    blocked_units    numeric     NOT NULL DEFAULT 0,
    expired_units    numeric     NOT NULL DEFAULT 0,
    spent_units      numeric     NOT NULL DEFAULT 0,
    earned_units     numeric     NOT NULL DEFAULT 0,
    last_transfer_id uuid, -- the transfer that last changed the wallet
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.unit_transfer (
    transfer_id         uuid        PRIMARY KEY,
    tenant_id           uuid        NOT NULL REFERENCES public.tenant,
    wallet_id           uuid        NOT NULL REFERENCES public.wallet,
    member_id           uuid        NOT NULL REFERENCES public.member,
    type                text        NOT NULL
        CHECK (type IN ('adding', 'spending', 'p2p_adding', 'p2p_spending', 'blocked', 'expired')),
    units               numeric     NOT NULL,
    remaining_units     numeric,
    pending             boolean     NOT NULL DEFAULT false,
    locked_until        timestamptz,
    expires_at          timestamptz,
    cancelled           boolean     NOT NULL DEFAULT false,
    related_transfer_id uuid,
    comment             text,
    action_cause        jsonb, -- {campaignId, customerId, transactionId, customEventId, internalEventName, performedAt}
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.reward (
    reward_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES public.tenant,
    name      text NOT NULL,
    type      text NOT NULL
        CHECK (type IN ('static_coupon', 'dynamic_coupon', 'conversion_coupon', 'material'))
);

CREATE TABLE IF NOT EXISTS public.issued_reward (
    issued_reward_id   uuid        PRIMARY KEY,
    tenant_id          uuid        NOT NULL REFERENCES public.tenant,
    reward_id          uuid        NOT NULL REFERENCES public.reward,
    member_id          uuid        NOT NULL REFERENCES public.member,
    name               text,
    reward_type        text,
    status             text        NOT NULL
        CHECK (status IN ('issued', 'pending', 'approved', 'packing', 'awaiting_shipping', 'shipped',
                          'returned', 'completed', 'canceled', 'rejected')),
    status_comment     text,
    status_changed_at  timestamptz,
    cost_in_points     numeric,
    token              text,
    redemption_date    timestamptz,
    price              numeric,
    tax                numeric,
    tax_price_value    numeric,
    coupon_code        text,
    coupon_value       numeric,
    coupon_value_type  text CHECK (coupon_value_type IN ('money', 'percentage')),
    coupon_active_from timestamptz,
    coupon_active_to   timestamptz,
    coupon_used_at     timestamptz,
    action_cause       jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.campaign (
    campaign_id  uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES public.tenant,
    name         text NOT NULL,
    trigger_type text NOT NULL
        CHECK (trigger_type IN ('transaction', 'custom_event', 'internal_event', 'achievement',
                                'return_transaction', 'custom_event_unique_code'))
);

CREATE TABLE IF NOT EXISTS public.campaign_effect_result (
    effect_result_id      uuid        PRIMARY KEY,
    tenant_id             uuid        NOT NULL REFERENCES public.tenant,
    campaign_execution_id uuid,
    campaign_id           uuid        NOT NULL REFERENCES public.campaign,
    member_id             uuid        NOT NULL REFERENCES public.member,
    status                text        NOT NULL CHECK (status IN ('success', 'skipped', 'failed')),
    type                  text        NOT NULL
        CHECK (type IN ('give_points', 'give_reward', 'deduct_unit',
                        'assign_member_custom_attribute', 'remove_member_custom_attribute')),
    points                numeric,
    coupon_value          numeric,
    reward_id             uuid        REFERENCES public.reward,
    wallet_type_code      text,
    redemption_code       text,
    trigger               jsonb,
    created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.webhook_subscription (
    subscription_id  uuid        PRIMARY KEY,
    tenant_id        uuid        NOT NULL REFERENCES public.tenant,
    event_name       text        NOT NULL,
    url              text        NOT NULL,
    destination_type text        NOT NULL DEFAULT 'rest',
    headers          jsonb, -- [{headerName, headerValue}]
    hmac_enabled     boolean     NOT NULL DEFAULT false,
    hmac_secret      text, -- whsec_…
    active           boolean     NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The trigger rules compare before and after images of updates (level_id, active, active_units,
-- status, member_id …). With the default replica identity PostgreSQL logs only the primary key of
-- the old row, so Debezium's "before" would be null or key-only; FULL logs the whole old row.
ALTER TABLE public.tenant                 REPLICA IDENTITY FULL;
ALTER TABLE public.settings               REPLICA IDENTITY FULL;
ALTER TABLE public.tier                   REPLICA IDENTITY FULL;
ALTER TABLE public.member                 REPLICA IDENTITY FULL;
ALTER TABLE public.member_code            REPLICA IDENTITY FULL;
ALTER TABLE public.transaction            REPLICA IDENTITY FULL;
ALTER TABLE public.wallet                 REPLICA IDENTITY FULL;
ALTER TABLE public.unit_transfer          REPLICA IDENTITY FULL;
ALTER TABLE public.reward                 REPLICA IDENTITY FULL;
ALTER TABLE public.issued_reward          REPLICA IDENTITY FULL;
ALTER TABLE public.campaign               REPLICA IDENTITY FULL;
ALTER TABLE public.campaign_effect_result REPLICA IDENTITY FULL;
ALTER TABLE public.webhook_subscription   REPLICA IDENTITY FULL;

-- The connectors run with publication.autocreate.mode=disabled, so this publication is the one
-- place that decides which tables are streamed. CREATE PUBLICATION has no IF NOT EXISTS: create
-- it when missing, otherwise reset its table list.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'loyaltyhooks') THEN
        CREATE PUBLICATION loyaltyhooks FOR TABLE
            public.tenant, public.settings, public.tier, public.member, public.member_code,
            public.transaction, public.wallet, public.unit_transfer, public.reward,
            public.issued_reward, public.campaign, public.campaign_effect_result,
            public.webhook_subscription;
    ELSE
        ALTER PUBLICATION loyaltyhooks SET TABLE
            public.tenant, public.settings, public.tier, public.member, public.member_code,
            public.transaction, public.wallet, public.unit_transfer, public.reward,
            public.issued_reward, public.campaign, public.campaign_effect_result,
            public.webhook_subscription;
    END IF;
END
$$;

COMMIT;
