-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "username" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'technician',
    "permissions" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "tokens_valid_after" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_login_at" TIMESTAMPTZ(3),

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth_tokens" (
    "jti" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "purpose" TEXT NOT NULL,
    "parent_jti" TEXT,
    "session_id" UUID,
    "issued_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "revoke_reason" TEXT,
    "client_ip" INET,
    "user_agent" TEXT,

    CONSTRAINT "auth_tokens_pkey" PRIMARY KEY ("jti")
);

-- CreateTable
CREATE TABLE "console_tickets" (
    "ticket_hash" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "login_jti" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),

    CONSTRAINT "console_tickets_pkey" PRIMARY KEY ("ticket_hash")
);

-- CreateTable
CREATE TABLE "agent_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "key_prefix" TEXT NOT NULL,
    "machine_id" UUID,
    "created_by" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "agent_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "machines" (
    "id" UUID NOT NULL,
    "machine_uid" TEXT,
    "keyed" BOOLEAN NOT NULL DEFAULT false,
    "name" TEXT NOT NULL,
    "hostname" TEXT,
    "os" TEXT,
    "agent_version" TEXT,
    "last_seen_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "removed_at" TIMESTAMPTZ(3),

    CONSTRAINT "machines_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "machine_id" UUID,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'online',
    "path" TEXT,
    "node_id" TEXT,
    "support_code_id" UUID,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),
    "removed_at" TIMESTAMPTZ(3),
    "removed_by" UUID,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "support_codes" (
    "id" UUID NOT NULL,
    "code" CHAR(6) NOT NULL,
    "label" TEXT,
    "created_by" UUID NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "connected_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),

    CONSTRAINT "support_codes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "type" TEXT NOT NULL,
    "actor_user_id" UUID,
    "actor" TEXT,
    "target" TEXT,
    "session_id" UUID,
    "client_ip" INET,
    "details" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "blocked_ips" (
    "ip" INET NOT NULL,
    "reason" TEXT NOT NULL,
    "blocked_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_by" TEXT,

    CONSTRAINT "blocked_ips_pkey" PRIMARY KEY ("ip")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_username_key" ON "users"("username");

-- CreateIndex
CREATE INDEX "auth_tokens_user_id_expires_at_idx" ON "auth_tokens"("user_id", "expires_at");

-- CreateIndex
CREATE INDEX "auth_tokens_parent_jti_idx" ON "auth_tokens"("parent_jti");

-- CreateIndex
CREATE INDEX "auth_tokens_revoked_at_expires_at_idx" ON "auth_tokens"("revoked_at", "expires_at");

-- CreateIndex
CREATE INDEX "console_tickets_expires_at_idx" ON "console_tickets"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "agent_keys_key_hash_key" ON "agent_keys"("key_hash");

-- CreateIndex
CREATE INDEX "agent_keys_machine_id_idx" ON "agent_keys"("machine_id");

-- CreateIndex
CREATE INDEX "machines_last_seen_at_idx" ON "machines"("last_seen_at");

-- CreateIndex
CREATE INDEX "sessions_machine_id_idx" ON "sessions"("machine_id");

-- CreateIndex
CREATE INDEX "sessions_status_last_seen_at_idx" ON "sessions"("status", "last_seen_at");

-- CreateIndex
CREATE INDEX "support_codes_code_idx" ON "support_codes"("code");

-- CreateIndex
CREATE INDEX "support_codes_created_by_created_at_idx" ON "support_codes"("created_by", "created_at");

-- CreateIndex
CREATE INDEX "audit_events_created_at_id_idx" ON "audit_events"("created_at", "id");

-- CreateIndex
CREATE INDEX "audit_events_type_created_at_idx" ON "audit_events"("type", "created_at");

-- CreateIndex
CREATE INDEX "audit_events_client_ip_created_at_idx" ON "audit_events"("client_ip", "created_at");

-- CreateIndex
CREATE INDEX "audit_events_session_id_idx" ON "audit_events"("session_id");

-- CreateIndex
CREATE INDEX "audit_events_actor_user_id_created_at_idx" ON "audit_events"("actor_user_id", "created_at");

-- CreateIndex
CREATE INDEX "blocked_ips_expires_at_idx" ON "blocked_ips"("expires_at");

-- AddForeignKey
ALTER TABLE "auth_tokens" ADD CONSTRAINT "auth_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "agent_keys" ADD CONSTRAINT "agent_keys_machine_id_fkey" FOREIGN KEY ("machine_id") REFERENCES "machines"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_machine_id_fkey" FOREIGN KEY ("machine_id") REFERENCES "machines"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_support_code_id_fkey" FOREIGN KEY ("support_code_id") REFERENCES "support_codes"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "support_codes" ADD CONSTRAINT "support_codes_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------
-- Hand-written below this line: constraints schema.prisma cannot express.
-- `prisma migrate diff` does not generate (or know about) anything below, so
-- keep it when regenerating the part above.
-- ---------------------------------------------------------------------------

-- CHECK constraints: closed sets stored as TEXT (the schema uses String, not
-- Prisma enums, so a new value is a one-line migration, not an ALTER TYPE).
ALTER TABLE "users" ADD CONSTRAINT "users_role_check" CHECK ("role" IN ('admin', 'technician'));

ALTER TABLE "sessions" ADD CONSTRAINT "sessions_kind_check" CHECK ("kind" IN ('support', 'unattended'));

ALTER TABLE "sessions" ADD CONSTRAINT "sessions_status_check" CHECK ("status" IN ('online', 'offline', 'ended', 'removed'));

ALTER TABLE "sessions" ADD CONSTRAINT "sessions_path_check" CHECK ("path" IS NULL OR "path" IN ('p2p', 'relay'));

ALTER TABLE "support_codes" ADD CONSTRAINT "support_codes_status_check" CHECK ("status" IN ('pending', 'connected', 'completed', 'cancelled', 'expired'));

ALTER TABLE "auth_tokens" ADD CONSTRAINT "auth_tokens_purpose_check" CHECK ("purpose" IN ('login', 'viewer'));

-- Dedup gate for un-keyed agents: one live, un-keyed machine per machine_uid.
-- Keyed machines and removed machines never collide.
CREATE UNIQUE INDEX "machines_machine_uid_live_key" ON "machines"("machine_uid") WHERE "machine_uid" IS NOT NULL AND NOT "keyed" AND "removed_at" IS NULL;

-- A support code is unique among live codes; finished codes may be reused.
CREATE UNIQUE INDEX "support_codes_code_live_key" ON "support_codes"("code") WHERE "status" IN ('pending', 'connected');

-- Usernames are unique regardless of case ("Alice" and "alice" are one user).
CREATE UNIQUE INDEX "users_username_lower_key" ON "users"(lower("username"));
