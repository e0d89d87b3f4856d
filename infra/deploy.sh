#!/usr/bin/env bash
# Deploys Booking Bridge from an empty (or existing) resource group in one command:
# infrastructure (main.bicep + main.bicepparam), the function code, the Microsoft Graph
# app role, then prints the one Teams step that has no API. Safe to run again: the
# operator's choices are read back from the last deployment (and a run that cannot find
# them, and may not ask, stops), every change is shown by a what-if before it is made, and
# every step checks what is there first. See docs/infrastructure.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
readonly SCRIPT_DIR REPO_ROOT
readonly PARAMETERS_FILE="$SCRIPT_DIR/main.bicepparam"
# Well-known ids, the same in every tenant: the Microsoft Graph application and its
# OnlineMeetings.ReadWrite.All application role.
readonly MICROSOFT_GRAPH_APP_ID="00000003-0000-0000-c000-000000000000"
readonly ONLINE_MEETINGS_ROLE_ID="b8bb2037-6e08-44ac-a4ea-4674e010e2a4"
readonly ONLINE_MEETINGS_ROLE="OnlineMeetings.ReadWrite.All"
# Calendar mode (--calendar-events): Calendars.ReadWrite, application.
readonly CALENDARS_ROLE_ID="ef54d2bf-783f-4e0f-bca1-3210c0444d99"
readonly CALENDARS_ROLE="Calendars.ReadWrite"
# Attendance reports (--attendance-reports): OnlineMeetingArtifact.Read.All, application.
readonly ARTIFACTS_ROLE_ID="df01ed3b-eb61-4eca-9965-6b3d789751b2"
readonly ARTIFACTS_ROLE="OnlineMeetingArtifact.Read.All"
readonly TEAMS_POLICY_NAME="BookingBridge"
# Storage Blob Data Contributor: the deployment identity holds it on the package's container only
# while deploy.sh publishes (publish_function_code).
readonly BLOB_DATA_CONTRIBUTOR_ROLE_ID="ba92f5b4-2d11-453d-a403-e96b0029c9fe"
# The tag main.bicep puts on every resource: a resource group holding such resources holds a bridge.
readonly BRIDGE_TAG_QUERY="length([?tags.application=='booking-bridge'])"
# Bounded waits for what Azure makes eventually consistent: a new identity reaching Microsoft
# Graph, and new role assignments reaching the services that check them (a 403 until then).
readonly GRAPH_ATTEMPTS=6
readonly GRAPH_RETRY_SECONDS=20
readonly PUBLISH_ATTEMPTS=5
readonly PUBLISH_RETRY_SECONDS=30
readonly EMAIL_PATTERN='^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'
readonly GUID_PATTERN='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
readonly RESOURCE_ID_PATTERN='^/subscriptions/[^[:space:]]+$'
# What Microsoft Graph answers for an object it does not know (yet): the only Graph failure that waiting fixes.
readonly GRAPH_NOT_FOUND_PATTERN='Request_ResourceNotFound|does not exist or one of its queried reference-property objects are not present'
# What storage or the publish endpoint answers while a new role assignment has not reached it.
readonly NOT_AUTHORIZED_YET_PATTERN='(^|[^0-9])403([^0-9]|$)|AuthorizationPermissionMismatch'

resource_group="${BOOKING_BRIDGE_RESOURCE_GROUP:-}"
location=""
app_name="${BOOKING_BRIDGE_APP_NAME:-bookingbridge}"
what_if=false
assume_yes=false
validation_level=""
publish_code=true
graph_in_template=false
skip_graph_grant=false
public_log=false
organizers=()
graph_role_pending=false
group_is_new=false
previous_deployment=false
package_write_granted=false
work_dir=""
# What list_app_role_assignments read from Microsoft Graph.
graph_answer=""
# The identity the platform deploys the package with, and the package's container (deployment outputs).
deployment_principal_id=""
deployment_container_id=""

# The choices a deployment keeps. Empty until given (on the command line, or the alert email in
# its environment variable); what is still empty then comes from the last deployment, and only
# then from the defaults. Each *_from says which, for the summary.
alert_email=""
alert_email_from=""
if [[ -n "${BOOKING_BRIDGE_ALERT_EMAIL:-}" ]]; then
  alert_email="$BOOKING_BRIDGE_ALERT_EMAIL"
  alert_email_from="given"
fi
calendar_events=""
calendar_events_from=""
calendar_access=""
calendar_access_from=""
attendance_reports=""
attendance_reports_from=""
private_networking=""
private_networking_from=""
always_ready=""
always_ready_from=""
# --local-access (true) or --no-local-access (false); empty keeps the last deployment's.
local_access=""
deployer_principal_id=""
deployer_principal_type=""
deployer_from=""
previous_deployer_principal_id=""

usage() {
  cat <<EOF
Usage: infra/deploy.sh --resource-group NAME [options]

Deploys Booking Bridge: Bicep infrastructure, the function code, and the Microsoft
Graph app role; then prints the Teams application access policy commands.

A choice below that is not given keeps its value from the last deployment of this app to
this resource group, so a second run without the flags of the first changes nothing. A run
with --yes that cannot find that deployment in a resource group that holds a bridge stops.
Before anything changes, the what-if of the deployment is shown and you are asked to confirm.

Options:
  -g, --resource-group NAME  Resource group to deploy into (or BOOKING_BRIDGE_RESOURCE_GROUP).
  -l, --location REGION      Region for a resource group that does not exist yet; it must
                             offer Flex Consumption (az functionapp list-flexconsumption-locations).
  -n, --app-name NAME        Short name resource names are built from (default: bookingbridge,
                             or BOOKING_BRIDGE_APP_NAME).
      --alert-email ADDRESS  Where the alerts (dead letters, failed results, Graph 401/403,
                             failed invocations) are emailed (or BOOKING_BRIDGE_ALERT_EMAIL);
                             a distribution list is best. Kept by later runs.
      --no-alert-email       Remove the alert email: the alerts then notify nobody.
      --calendar-events      Turn calendar mode on (CALENDAR_EVENTS_ENABLED): bookings with
                             "calendar" become Outlook events. Kept by later runs.
      --no-calendar-events   Turn calendar mode off (a tenant-wide $CALENDARS_ROLE left
                             from earlier is named with the command that removes it).
      --calendar-access WHERE
                             Where calendar mode's $CALENDARS_ROLE comes from: entra (default
                             for a first deployment: granted here in Entra, reaching every
                             mailbox of the tenant) or exchange (never granted in Entra; an
                             Exchange administrator scopes it to the organizers' mailboxes with
                             the commands printed at the end). Kept by later runs; a deployment
                             made before this choice existed must name it.
      --attendance-reports   Turn attendance reports on (ATTENDANCE_REPORTS_ENABLED): bookings
                             with "attendance" get who attended after the meeting; grants
                             $ARTIFACTS_ROLE. Kept by later runs.
      --no-attendance-reports
                             Turn attendance reports off (an $ARTIFACTS_ROLE grant
                             left from earlier is named with the command that removes it).
      --private-networking   Join the app to a virtual network and reach storage (and Service
                             Bus Premium) through private endpoints only; costs extra, see
                             docs/infrastructure.md. Kept by later runs.
      --no-private-networking
                             Back to public endpoints (the network resources stay until deleted).
      --always-ready         Keep one instance of the bookings function started: no cold start
                             after a quiet period, for its memory's baseline price every second
                             (about \$21 a month at 2,048 MB; docs/infrastructure.md). Kept by later runs.
      --no-always-ready      Back to scaling to zero (the default): executions alone are billed.
      --local-access         Also let you (the signed-in az principal) send test bookings,
                             read results and replay dead letters with the local tools
                             (your own grants, apart from the function identity's). Kept.
      --no-local-access      Grant the local tools to nobody from now on (the grants already
                             made are named with the command that removes them).
      --graph-in-template    Grant $ONLINE_MEETINGS_ROLE in the Bicep deployment (Microsoft
                             Graph extension) instead of with az rest afterwards. Either way
                             you need the Entra rights to assign Microsoft Graph app roles.
      --skip-graph-grant     Neither check nor grant the Microsoft Graph app roles (an
                             identity without Entra rights, such as CI's); say what to grant.
      --organizer UPN        Organizer to name in the printed Grant-CsApplicationAccessPolicy
                             command (repeatable); without it the command has a placeholder.
      --skip-code            Deploy the infrastructure only; do not publish the function code.
      --what-if              Show what the deployment would change, and change nothing.
      --validation-level LEVEL
                             Validation of the what-if: Provider (az's default: also checks
                             that you may write every resource), ProviderNoRbac (read checks
                             only, for an identity that may only read) or Template.
      --public-log           The log is public (CI on a public repository): print no personal
                             data (alert email, object ids, subscription, organizers), show the
                             what-if as resource ids only, and in GitHub Actions mask those values.
  -y, --yes                  Deploy after the what-if without asking (scripts and CI).
  -h, --help                 Show this help.

Prerequisites: Azure CLI 2.76+ signed in (az login) with Owner, or Contributor plus
User Access Administrator, on the resource group; Bicep (az bicep install); zip to package
the code, and Python 3.11 to put its bytecode in the package.

Tear down: az group delete --name NAME --yes (see docs/infrastructure.md, "Tear down", for what outlives it).
EOF
}

die() {
  printf 'deploy.sh: error: %s\n' "$*" >&2
  exit 1
}

warn() {
  printf 'deploy.sh: warning: %s\n' "$*" >&2
}

step() {
  printf '\n==> %s\n' "$*"
}

# Text from outside (an error Azure or Graph answered) as it may reach a terminal or a log:
# bounded, each control character shown as '?'.
printable() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    printf '%s\n' "${line//[^[:print:]]/?}"
  done <<<"${1:0:4000}"
}

# What an az command wrote to stderr (saved in a file), shown on stderr.
show_errors() {
  [[ ! -s "$1" ]] || printable "$(<"$1")" >&2
}

# A value that is personal data (an address, an object id, the subscription): hidden with
# --public-log, and in GitHub Actions also masked in every later line of the log, az's included.
mask() {
  local value
  [[ "$public_log" == true && "${GITHUB_ACTIONS:-}" == true ]] || return 0
  for value in "$@"; do
    [[ -z "$value" || "$value" == *$'\n'* ]] || printf '::add-mask::%s\n' "$value"
  done
}

shown() {
  if [[ "$public_log" == true && -n "$1" ]]; then
    printf '(set, not shown: --public-log)'
  else
    printf '%s' "${1:-$2}"
  fi
}

parse_arguments() {
  while (($# > 0)); do
    case "$1" in
      -g | --resource-group)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        resource_group="$2"
        shift 2
        ;;
      -l | --location)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        location="$2"
        shift 2
        ;;
      -n | --app-name)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        app_name="$2"
        shift 2
        ;;
      --alert-email)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        alert_email="$2"
        alert_email_from="given"
        shift 2
        ;;
      --no-alert-email)
        alert_email=""
        alert_email_from="given"
        shift
        ;;
      --calendar-events)
        calendar_events=true
        calendar_events_from="given"
        shift
        ;;
      --no-calendar-events)
        calendar_events=false
        calendar_events_from="given"
        shift
        ;;
      --calendar-access)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        calendar_access="$2"
        calendar_access_from="given"
        shift 2
        ;;
      --attendance-reports)
        attendance_reports=true
        attendance_reports_from="given"
        shift
        ;;
      --no-attendance-reports)
        attendance_reports=false
        attendance_reports_from="given"
        shift
        ;;
      --private-networking)
        private_networking=true
        private_networking_from="given"
        shift
        ;;
      --no-private-networking)
        private_networking=false
        private_networking_from="given"
        shift
        ;;
      --always-ready)
        always_ready=true
        always_ready_from="given"
        shift
        ;;
      --no-always-ready)
        always_ready=false
        always_ready_from="given"
        shift
        ;;
      --local-access)
        local_access=true
        shift
        ;;
      --no-local-access)
        local_access=false
        shift
        ;;
      --graph-in-template)
        graph_in_template=true
        shift
        ;;
      --skip-graph-grant)
        skip_graph_grant=true
        shift
        ;;
      --organizer)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        organizers+=("$2")
        shift 2
        ;;
      --skip-code)
        publish_code=false
        shift
        ;;
      --what-if)
        what_if=true
        shift
        ;;
      --validation-level)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        validation_level="$2"
        shift 2
        ;;
      --public-log)
        public_log=true
        shift
        ;;
      -y | --yes)
        assume_yes=true
        shift
        ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        die "unknown option '$1' (see --help)"
        ;;
    esac
  done
  [[ -n "$resource_group" ]] || die "--resource-group is required (see --help)"
  [[ "$app_name" =~ ^[a-z][a-z0-9-]{1,19}$ ]] ||
    die "--app-name '$app_name' must be 2-20 lowercase letters, digits or hyphens, starting with a letter"
  [[ -z "$alert_email" || "$alert_email" =~ $EMAIL_PATTERN ]] ||
    die "--alert-email is not an email address"
  [[ -z "$calendar_access" || "$calendar_access" == entra || "$calendar_access" == exchange ]] ||
    die "--calendar-access must be entra or exchange, not '$calendar_access'"
  [[ -z "$validation_level" || "$validation_level" =~ ^(Provider|ProviderNoRbac|Template)$ ]] ||
    die "--validation-level must be Provider, ProviderNoRbac or Template, not '$validation_level'"
  if [[ "$graph_in_template" == true && "$skip_graph_grant" == true ]]; then
    die "--graph-in-template grants the Graph role in the deployment, --skip-graph-grant leaves it out: pick one"
  fi
  mask "$alert_email" "${organizers[@]+"${organizers[@]}"}"
}

check_prerequisites() {
  step "Checking prerequisites"
  command -v az >/dev/null 2>&1 ||
    die "the Azure CLI (az) is not installed: see https://learn.microsoft.com/cli/azure/install-azure-cli"
  az account show --output none 2>/dev/null ||
    die "az is not signed in: run 'az login', then 'az account set --subscription <id>'"
  az bicep version >/dev/null 2>&1 ||
    die "Bicep is not installed for az: run 'az bicep install'"
  if [[ "$publish_code" == true && "$what_if" == false ]]; then
    [[ -f "$REPO_ROOT/host.json" ]] ||
      die "no host.json in $REPO_ROOT: run deploy.sh from a checkout of the bridge, or pass --skip-code"
    command -v zip >/dev/null 2>&1 ||
      die "publishing needs zip to package the code: install it, or pass --skip-code"
  fi
  local subscription line
  subscription="$(az account show --query '[name, id]' --output tsv)"
  while IFS= read -r line; do
    mask "$line"
  done <<<"$subscription"
  printf 'Subscription: %s\n' "$(shown "$(printable "${subscription//$'\n'/ }")")"
}

# Finds the resource group; one that does not exist yet is created only after the confirmation.
# A failed check is never taken for "does not exist": that would skip the kept choices.
locate_resource_group() {
  local exists
  step "Resource group $resource_group"
  exists="$(az group exists --name "$resource_group")" ||
    die "could not check whether resource group '$resource_group' exists (the error is above); nothing was changed: run deploy.sh again"
  case "$exists" in
    true)
      printf 'Exists.\n'
      return
      ;;
    false) ;;
    *)
      die "az group exists answered neither true nor false; nothing was changed: run deploy.sh again"
      ;;
  esac
  [[ -n "$location" ]] ||
    die "resource group '$resource_group' does not exist: pass --location REGION to create it (list Flex Consumption regions with: az functionapp list-flexconsumption-locations --output table)"
  if [[ "$what_if" == true ]]; then
    die "resource group '$resource_group' does not exist and --what-if changes nothing: create it first with 'az group create --name $resource_group --location $location'"
  fi
  group_is_new=true
  printf 'Does not exist yet: it will be created in %s.\n' "$location"
}

deployment_name() {
  printf 'booking-bridge-%s' "$app_name"
}

# ARM keeps the parameters of every deployment (az deployment group show), so the last
# deployment of this app is the record of the operator's choices, whichever machine or CI
# run made it. A choice not given now keeps its value from there.
load_previous_choices() {
  [[ "$group_is_new" == false ]] || return 0
  local count answer line values=()
  count="$(az deployment group list --resource-group "$resource_group" \
    --query "length([?name=='$(deployment_name)'])" --output tsv)"
  if [[ "$count" != "1" ]]; then
    no_record_found
    return
  fi
  previous_deployment=true
  answer="$(az deployment group show --resource-group "$resource_group" --name "$(deployment_name)" \
    --query "properties.parameters.[to_string(alertEmail.value), to_string(calendarEvents.value), to_string(calendarAccess.value), to_string(privateNetworking.value), to_string(deployerPrincipalId.value), to_string(deployerPrincipalType.value), to_string(attendanceReports.value), to_string(alwaysReady.value)]" \
    --output tsv)"
  while IFS= read -r line; do
    values+=("$line")
  done <<<"$answer"
  ((${#values[@]} == 8)) ||
    die "could not read the choices of the last deployment $(deployment_name): pass them on the command line"
  # Each value is checked before it is used: a parameter a deployment predates reads "null".
  if [[ -z "$alert_email_from" && "${values[0]}" != null ]]; then
    [[ -z "${values[0]}" || "${values[0]}" =~ $EMAIL_PATTERN ]] ||
      die "the last deployment's alertEmail is not an email address: pass --alert-email or --no-alert-email"
    mask "${values[0]}"
    alert_email="${values[0]}"
    alert_email_from="kept"
  fi
  if [[ -z "$calendar_events_from" && "${values[1]}" != null ]]; then
    [[ "${values[1]}" == true || "${values[1]}" == false ]] ||
      die "the last deployment's calendarEvents is not true or false: pass --calendar-events or --no-calendar-events"
    calendar_events="${values[1]}"
    calendar_events_from="kept"
  fi
  if [[ -z "$calendar_access_from" && "${values[2]}" != null ]]; then
    [[ "${values[2]}" == entra || "${values[2]}" == exchange ]] ||
      die "the last deployment's calendarAccess is not entra or exchange: pass --calendar-access"
    calendar_access="${values[2]}"
    calendar_access_from="kept"
  fi
  if [[ -z "$attendance_reports_from" && "${values[6]}" != null ]]; then
    [[ "${values[6]}" == true || "${values[6]}" == false ]] ||
      die "the last deployment's attendanceReports is not true or false: pass --attendance-reports or --no-attendance-reports"
    attendance_reports="${values[6]}"
    attendance_reports_from="kept"
  fi
  if [[ -z "$private_networking_from" && "${values[3]}" != null ]]; then
    [[ "${values[3]}" == true || "${values[3]}" == false ]] ||
      die "the last deployment's privateNetworking is not true or false: pass --private-networking or --no-private-networking"
    private_networking="${values[3]}"
    private_networking_from="kept"
  fi
  if [[ -z "$always_ready_from" && "${values[7]}" != null ]]; then
    [[ "${values[7]}" == true || "${values[7]}" == false ]] ||
      die "the last deployment's alwaysReady is not true or false: pass --always-ready or --no-always-ready"
    always_ready="${values[7]}"
    always_ready_from="kept"
  fi
  if [[ -n "${values[4]}" && "${values[4]}" != null ]]; then
    if [[ "${values[4]}" =~ $GUID_PATTERN && "${values[5]}" =~ ^(User|Group|ServicePrincipal)$ ]]; then
      mask "${values[4]}"
      previous_deployer_principal_id="${values[4]}"
    elif [[ -z "$local_access" ]]; then
      die "the last deployment's deployerPrincipalId or deployerPrincipalType is not valid: pass --local-access or --no-local-access"
    fi
  fi
  if [[ -z "$local_access" && "${values[4]}" != null ]]; then
    deployer_principal_id="$previous_deployer_principal_id"
    [[ -z "$deployer_principal_id" ]] || deployer_principal_type="${values[5]}"
    deployer_from="kept"
  fi
}

# No deployment of this name to read the choices from. In a resource group that already holds a
# bridge (another booking-bridge-* deployment: the app name differs, say, or ARM pruned this one from
# the group's history; or resources with the bridge's tag), deploying the defaults would undo the
# operator's choices: a run that may not ask stops, one that may ask says so first.
no_record_found() {
  local others tagged names=() name found
  others="$(az deployment group list --resource-group "$resource_group" \
    --query "[?starts_with(name, 'booking-bridge-')].name" --output tsv)"
  tagged="$(az resource list --resource-group "$resource_group" --query "$BRIDGE_TAG_QUERY" --output tsv)"
  while IFS= read -r name; do
    [[ ! "$name" =~ ^booking-bridge-[a-z][a-z0-9-]{1,19}$ ]] || names+=("${name#booking-bridge-}")
  done <<<"$others"
  if ((${#names[@]} == 0)) && [[ ! "$tagged" =~ ^[1-9][0-9]*$ ]]; then
    printf 'No earlier deployment %s: what is not given takes its default.\n' "$(deployment_name)"
    return
  fi
  found="resource group '$resource_group' holds a Booking Bridge"
  if ((${#names[@]} > 0)); then
    found+=" deployed with --app-name ${names[*]}"
  else
    found+=" (resources tagged application=booking-bridge)"
  fi
  found+=" but no deployment $(deployment_name) to read its choices from"
  if [[ "$assume_yes" == true ]]; then
    die "$found. Nothing was changed: name the deployment with --app-name (or BOOKING_BRIDGE_APP_NAME), or, if its record is gone, run once without --yes and give every choice"
  fi
  warn "$found: what is not given takes its DEFAULT, which may undo the choices made then (see the what-if)."
}

# The object id and kind of whoever az is signed in as, for --local-access.
signed_in_principal() {
  local kind
  kind="$(az account show --query user.type --output tsv)"
  case "$kind" in
    user)
      printf '%s User\n' "$(az ad signed-in-user show --query id --output tsv)"
      ;;
    servicePrincipal)
      printf '%s ServicePrincipal\n' "$(az ad sp show --id "$(az account show --query user.name --output tsv)" --query id --output tsv)"
      ;;
    *)
      die "--local-access cannot tell who is signed in (az account type '$kind'); leave it out"
      ;;
  esac
}

# The value main.bicepparam sets for a parameter it writes as a literal, such as serviceBusSku.
parameter_literal() {
  sed -n "s/^param $1 = '\([^']*\)'.*/\1/p" "$PARAMETERS_FILE"
}

settle_choices() {
  [[ -n "$calendar_events" ]] || calendar_events=false
  [[ -n "$calendar_events_from" ]] || calendar_events_from="default"
  # A deployment made before calendarAccess existed may have had its Entra grant removed by hand,
  # as the docs then said, for an Exchange scope: the default (entra) would grant every mailbox again.
  if [[ "$calendar_events" == true && -z "$calendar_access" && "$previous_deployment" == true ]]; then
    die "the last deployment has calendar mode on but records no calendarAccess (it predates it): pass --calendar-access exchange if $CALENDARS_ROLE is scoped in Exchange, or --calendar-access entra to grant it on every mailbox"
  fi
  [[ -n "$calendar_access" ]] || calendar_access=entra
  [[ -n "$calendar_access_from" ]] || calendar_access_from="default"
  [[ -n "$attendance_reports" ]] || attendance_reports=false
  [[ -n "$attendance_reports_from" ]] || attendance_reports_from="default"
  [[ -n "$private_networking" ]] || private_networking=false
  [[ -n "$private_networking_from" ]] || private_networking_from="default"
  [[ -n "$always_ready" ]] || always_ready=false
  [[ -n "$always_ready_from" ]] || always_ready_from="default"
  [[ -n "$alert_email_from" ]] || alert_email_from="default"
  case "$local_access" in
    true)
      read -r deployer_principal_id deployer_principal_type < <(signed_in_principal)
      [[ "$deployer_principal_id" =~ $GUID_PATTERN ]] || die "--local-access could not read your object id from Entra"
      mask "$deployer_principal_id"
      deployer_from="given"
      ;;
    false)
      deployer_principal_id=""
      deployer_from="given"
      ;;
  esac
  [[ -n "$deployer_from" ]] || deployer_from="default"
  [[ -n "$deployer_principal_type" ]] || deployer_principal_type=User

  step "Choices (given now, kept from the last deployment, or the default)"
  printf '  Alert email:         %s (%s)\n' "$(shown "$alert_email" none)" "$alert_email_from"
  if [[ "$calendar_events" == true ]]; then
    printf '  Calendar mode:       on, %s from %s (%s)\n' "$CALENDARS_ROLE" "$calendar_access" "$calendar_events_from, $calendar_access_from"
  else
    printf '  Calendar mode:       off (%s)\n' "$calendar_events_from"
  fi
  if [[ "$attendance_reports" == true ]]; then
    printf '  Attendance reports:  on, %s (%s)\n' "$ARTIFACTS_ROLE" "$attendance_reports_from"
  else
    printf '  Attendance reports:  off (%s)\n' "$attendance_reports_from"
  fi
  if [[ "$private_networking" == true ]]; then
    printf '  Private networking:  on (%s)\n' "$private_networking_from"
  else
    printf '  Private networking:  off (%s)\n' "$private_networking_from"
  fi
  if [[ "$always_ready" == true ]]; then
    printf '  Always ready:        one instance, billed every second (%s)\n' "$always_ready_from"
  else
    printf '  Always ready:        off, scales to zero (%s)\n' "$always_ready_from"
  fi
  printf '  Local access for:    %s (%s)\n' "$(shown "$deployer_principal_id" nobody)" "$deployer_from"

  warn_if_alerts_notify_nobody
  if [[ "$calendar_events" == true && "$calendar_access" == entra ]]; then
    warn "calendar mode with --calendar-access entra grants $CALENDARS_ROLE on EVERY mailbox of the tenant;"
    warn "to limit it to the organizers' mailboxes, run again with --calendar-access exchange (docs/infrastructure.md)."
  fi
  if [[ "$private_networking" == true && "$(parameter_literal serviceBusSku)" != Premium ]]; then
    warn "private networking with Service Bus $(parameter_literal serviceBusSku): Service Bus stays on its public endpoint"
    warn "(private endpoints need Premium: serviceBusSku in main.bicepparam; docs/infrastructure.md)."
  fi
  if [[ -n "$previous_deployer_principal_id" && "$deployer_principal_id" != "$previous_deployer_principal_id" ]]; then
    local earlier="$previous_deployer_principal_id"
    [[ "$public_log" == false ]] || earlier="<the object id local access was granted to>"
    warn "the local-access grants of the last deployment stay until deleted (deployments are incremental); remove them with:"
    printf "  az role assignment delete --ids \$(az role assignment list --all --assignee '%s' --query \"[?resourceGroup=='%s'].id\" --output tsv)\n" \
      "$earlier" "$resource_group" >&2
  fi
}

# Said with the choices and again at the end, where it cannot scroll away unseen.
warn_if_alerts_notify_nobody() {
  [[ -z "$alert_email" ]] || return 0
  warn "no alert email: the alerts are created, but they email NOBODY."
  warn "dead-lettered bookings, failed results, Graph 401/403 and failed invocations will go unnoticed;"
  warn "run again with --alert-email ops@example.com (see docs/alerts.md)."
}

# Asks before a change, unless --yes. No answer (stdin is no terminal) changes nothing.
confirm() {
  [[ "$assume_yes" == false ]] || return 0
  local answer=""
  printf '\n%s [y/N] ' "$1"
  if ! read -r answer; then
    printf '\n'
    die "no answer, so nothing was changed: run in a terminal, or pass --yes to deploy without asking"
  fi
  case "$answer" in
    y | Y | yes | Yes | YES) ;;
    *)
      printf 'Nothing was changed.\n'
      exit 0
      ;;
  esac
}

export_parameters() {
  # main.bicepparam reads these; nothing else is passed on the command line.
  export BOOKING_BRIDGE_APP_NAME="$app_name"
  export BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE="$graph_in_template"
  export BOOKING_BRIDGE_ALERT_EMAIL="$alert_email"
  export BOOKING_BRIDGE_CALENDAR_EVENTS="$calendar_events"
  export BOOKING_BRIDGE_CALENDAR_ACCESS="$calendar_access"
  export BOOKING_BRIDGE_ATTENDANCE_REPORTS="$attendance_reports"
  export BOOKING_BRIDGE_PRIVATE_NETWORKING="$private_networking"
  export BOOKING_BRIDGE_ALWAYS_READY="$always_ready"
  export BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID="$deployer_principal_id"
  export BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE="$deployer_principal_type"
}

# With --public-log the what-if lists the resources it would change, not their properties: those
# hold the alert email, object ids and ALLOWED_ORGANIZERS.
show_what_if() {
  local options=()
  [[ -z "$validation_level" ]] || options+=(--validation-level "$validation_level")
  [[ "$public_log" == false ]] || options+=(--result-format ResourceIdOnly)
  az deployment group what-if --resource-group "$resource_group" --name "$(deployment_name)" \
    --parameters "$PARAMETERS_FILE" ${options[@]+"${options[@]}"}
}

# True when the deployment failed only in the Graph app role module, and for the one reason waiting
# fixes: with --graph-in-template a new identity is often not in Microsoft Graph yet, and the
# extension does not wait for it. A refusal (no right to assign app roles) is not retried.
only_graph_role_not_replicated() {
  local failed
  [[ "$(<"$work_dir/deployment.err")" =~ $GRAPH_NOT_FOUND_PATTERN ]] || return 1
  failed="$(az deployment operation group list --resource-group "$resource_group" --name "$(deployment_name)" \
    --query "[?properties.provisioningState=='Failed'].properties.targetResource.resourceName" --output tsv)" ||
    return 1
  [[ "$failed" == "graph-app-role" ]]
}

create_deployment() {
  local attempt
  step "Deploying infrastructure (az deployment group create, a few minutes)"
  for ((attempt = 1; ; attempt++)); do
    if az deployment group create --resource-group "$resource_group" --name "$(deployment_name)" \
      --parameters "$PARAMETERS_FILE" --output none 2>"$work_dir/deployment.err"; then
      show_errors "$work_dir/deployment.err"
      return
    fi
    show_errors "$work_dir/deployment.err"
    if [[ "$graph_in_template" == true ]] && ((attempt < GRAPH_ATTEMPTS)) && only_graph_role_not_replicated; then
      printf 'Only the Microsoft Graph app role failed, because the identity is not in Microsoft Graph yet. Deploying again in %s s (attempt %s of %s)...\n' \
        "$GRAPH_RETRY_SECONDS" "$((attempt + 1))" "$GRAPH_ATTEMPTS"
      sleep "$GRAPH_RETRY_SECONDS"
      continue
    fi
    die "the deployment failed (its errors are above; az deployment operation group list --resource-group $resource_group --name $(deployment_name) lists each step)"
  done
}

deploy_infrastructure() {
  export_parameters
  if [[ "$what_if" == true ]]; then
    step "What the deployment would change (nothing is changed)"
    show_what_if
    return
  fi
  if [[ "$group_is_new" == true ]]; then
    confirm "Create resource group $resource_group in $location and deploy Booking Bridge into it?"
    az group create --name "$resource_group" --location "$location" --output none
    printf 'Resource group %s created in %s.\n' "$resource_group" "$location"
  else
    step "What the deployment will change"
    show_what_if
    confirm "Deploy these changes to $resource_group?"
  fi
  create_deployment
}

deployment_output() {
  az deployment group show --resource-group "$resource_group" --name "$(deployment_name)" \
    --query "properties.outputs.$1.value" --output tsv
}

# The deployment identity's grants of Storage Blob Data Contributor on the package's container, one
# assignment id a line (read with the Azure roles the deployer holds, never Microsoft Graph).
package_write_grants() {
  local principal_id="$1" container_id="$2"
  az role assignment list --scope "$container_id" --fill-principal-name false --fill-role-definition-name false \
    --query "[?principalId=='$principal_id' && ends_with(roleDefinitionId, '/$BLOB_DATA_CONTRIBUTOR_ROLE_ID')].id" \
    --output tsv
}

# Flex Consumption writes the package with the deployment identity, and attaches that identity to
# the app, where code could ask the platform for its token. So the template grants it read alone,
# and deploy.sh lets it write only while it publishes.
grant_package_write() {
  local principal_id="$1" container_id="$2" existing
  step "Letting the deployment identity write the code package (until the publish ends)"
  existing="$(package_write_grants "$principal_id" "$container_id")" ||
    die "could not read the role assignments on the package's container (errors above); nothing was published"
  package_write_granted=true
  if [[ -n "$existing" ]]; then
    printf 'Already granted (it is removed once published).\n'
    return
  fi
  az role assignment create --assignee-object-id "$principal_id" --assignee-principal-type ServicePrincipal \
    --role "$BLOB_DATA_CONTRIBUTOR_ROLE_ID" --scope "$container_id" --output none ||
    die "could not let the deployment identity write the package (errors above); nothing was published"
  printf 'Granted: Storage Blob Data Contributor on the package container.\n'
}

# Removes every write grant of the deployment identity on the package, those grant_package_write
# made and any a deployment made before it left standing. Returns non-zero when one is left.
remove_package_write() {
  local principal_id="$1" container_id="$2" ids id left=0
  step "Taking back the deployment identity's write on the code package (it keeps read)"
  if ! ids="$(package_write_grants "$principal_id" "$container_id")"; then
    left=1
  fi
  while IFS= read -r id; do
    [[ -n "$id" ]] || continue
    if [[ ! "$id" =~ $RESOURCE_ID_PATTERN ]]; then
      left=1
      continue
    fi
    az role assignment delete --ids "$id" --output none || left=1
  done <<<"$ids"
  package_write_granted=false
  if ((left == 0)); then
    printf 'Done: it may read the package, not write it.\n'
    return 0
  fi
  warn "the deployment identity may still write the code package; remove its Storage Blob Data Contributor with:"
  printf "  az role assignment delete --ids \$(az role assignment list --scope '%s' --fill-principal-name false --query \"[?principalId=='%s' && ends_with(roleDefinitionId, '/%s')].id\" --output tsv)\n" \
    "$container_id" "$principal_id" "$BLOB_DATA_CONTRIBUTOR_ROLE_ID" >&2
  return 1
}

# Builds the package and publishes it. Only a refusal that a role assignment still on its way
# explains (403) is retried, bounded; any other failure (a remote build that fails, say) stops at
# once, with its error. Returns non-zero when the code is not published.
publish_function_code() {
  local function_app="$1" attempt error
  step "Publishing the function code to $function_app"
  # The function's files alone, plus their bytecode (which Core Tools would leave out): the app runs
  # read-only from the package, so without it every cold start compiles.
  "$REPO_ROOT/infra/package.sh" "$work_dir/app.zip" || die "could not build the deployment package"
  # Flex Consumption deploys through the One Deploy endpoint; --build-remote installs
  # requirements.txt on Linux, so the package needs no pre-built dependencies.
  for ((attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++)); do
    if az functionapp deployment source config-zip --resource-group "$resource_group" \
      --name "$function_app" --src "$work_dir/app.zip" --build-remote true --output none 2>"$work_dir/publish.err"; then
      show_errors "$work_dir/publish.err"
      return 0
    fi
    show_errors "$work_dir/publish.err"
    error="$(<"$work_dir/publish.err")"
    if [[ ! "$error" =~ $NOT_AUTHORIZED_YET_PATTERN ]]; then
      warn "publishing failed (the error above); waiting would not fix it, so it was not retried"
      return 1
    fi
    ((attempt < PUBLISH_ATTEMPTS)) || break
    printf 'Publishing failed (attempt %s of %s): refused while new role assignments take a few minutes to apply. Retrying in %s s...\n' \
      "$attempt" "$PUBLISH_ATTEMPTS" "$PUBLISH_RETRY_SECONDS"
    sleep "$PUBLISH_RETRY_SECONDS"
  done
  warn "publishing failed $PUBLISH_ATTEMPTS times, refused each time (403): the role assignments have not applied yet"
  return 1
}

# The identity's assignments of one Microsoft Graph app role, as a JMESPath query over
# GET /servicePrincipals/{id}/appRoleAssignments: "length(...)" counts them, ".id" lists them.
assignments_query() {
  printf "value[?appRoleId=='%s' && resourceId=='%s']%s" "$1" "$2" "$3"
}

graph_url() {
  local url
  url="$(az cloud show --query endpoints.microsoftGraphResourceId --output tsv)"
  printf '%s/v1.0' "${url%/}"
}

# Lists the identity's app role assignments (answer in graph_answer). A new identity's service
# principal can take a minute or two to reach Microsoft Graph, which answers "does not exist"
# until then: that alone is waited for, bounded (return 1 when it never appeared). Any other
# failure (a refusal, a wrong cloud, the network) is shown as Graph or az gave it (return 2).
list_app_role_assignments() {
  local graph="$1" principal_id="$2" query="$3" attempt error
  for ((attempt = 1; attempt <= GRAPH_ATTEMPTS; attempt++)); do
    if graph_answer="$(az rest --method get --url "$graph/servicePrincipals/$principal_id/appRoleAssignments" \
      --query "$query" --output tsv 2>"$work_dir/graph.err")"; then
      return 0
    fi
    error="$(<"$work_dir/graph.err")"
    if [[ ! "$error" =~ $GRAPH_NOT_FOUND_PATTERN ]]; then
      printable "$error" >&2
      return 2
    fi
    ((attempt < GRAPH_ATTEMPTS)) || break
    printf 'Waiting for the identity to appear in Microsoft Graph (attempt %s of %s)...\n' "$attempt" "$GRAPH_ATTEMPTS"
    sleep "$GRAPH_RETRY_SECONDS"
  done
  return 1
}

# Grants a Microsoft Graph application role (OnlineMeetings.ReadWrite.All; Calendars.ReadWrite in calendar
# mode with Entra access; OnlineMeetingArtifact.Read.All with attendance reports) to the identity, unless it has it.
grant_graph_app_role() {
  local principal_id="$1" role_id="$2" role="$3" graph graph_sp_id role_known body listed=0
  step "Microsoft Graph app role $role"
  graph="$(graph_url)"
  graph_sp_id="$(az ad sp show --id "$MICROSOFT_GRAPH_APP_ID" --query id --output tsv)"
  role_known="$(az ad sp show --id "$MICROSOFT_GRAPH_APP_ID" \
    --query "length(appRoles[?id=='$role_id' && value=='$role'])" --output tsv)"
  [[ "$role_known" == "1" ]] ||
    die "Microsoft Graph in this tenant has no app role $role_id ($role)"

  list_app_role_assignments "$graph" "$principal_id" "$(assignments_query "$role_id" "$graph_sp_id" '| length(@)')" ||
    listed=$?
  if ((listed == 1)); then
    graph_role_pending=true
    warn "the identity $principal_id is not visible in Microsoft Graph yet: run deploy.sh again in a few minutes to grant $role"
    return
  fi
  if ((listed == 2)); then
    graph_role_pending=true
    warn "could not read the identity's Microsoft Graph app roles (Graph's answer is above), so $role was not granted:"
    warn "reading and assigning them needs a Privileged Role Administrator (or Global Administrator), or --skip-graph-grant"
    return
  fi
  if [[ "$graph_answer" == "1" ]]; then
    printf 'Already granted.\n'
    return
  fi

  body="{\"principalId\":\"$principal_id\",\"resourceId\":\"$graph_sp_id\",\"appRoleId\":\"$role_id\"}"
  if az rest --method post --url "$graph/servicePrincipals/$graph_sp_id/appRoleAssignedTo" \
    --headers "Content-Type=application/json" --body "$body" --output none; then
    printf 'Granted.\n'
    return
  fi
  graph_role_pending=true
  warn "could not grant $role: assigning Microsoft Graph app roles needs a Privileged Role Administrator (or Global Administrator). Ask one to run:"
  printf "  az rest --method post --url '%s' --headers 'Content-Type=application/json' --body '%s'\n" \
    "$graph/servicePrincipals/$graph_sp_id/appRoleAssignedTo" "$body" >&2
}

# A Microsoft Graph app role the identity must not hold (its feature off; Calendars.ReadWrite also with its access
# from Exchange, whose scope an Entra grant would widen to every mailbox): a grant left from an earlier run is named
# with the command that removes it. deploy.sh never deletes a grant itself. $4 says why the role is not granted,
# $5 what a grant left standing still allows.
name_grant_left_behind() {
  local principal_id="$1" role_id="$2" role="$3" reason="$4" still_allows="$5" graph graph_sp_id id listed=0
  step "Microsoft Graph app role $role ($reason)"
  graph="$(graph_url)"
  graph_sp_id="$(az ad sp show --id "$MICROSOFT_GRAPH_APP_ID" --query id --output tsv)"
  list_app_role_assignments "$graph" "$principal_id" "$(assignments_query "$role_id" "$graph_sp_id" '[].id')" ||
    listed=$?
  if ((listed == 1)); then
    printf 'The identity is not in Microsoft Graph yet, so it holds no grant.\n'
    return
  fi
  if ((listed == 2)); then
    warn "could not list the identity's Microsoft Graph app roles (the answer is above): check that $role is not granted to $principal_id in Entra"
    return
  fi
  if [[ -z "$graph_answer" ]]; then
    printf 'Not granted in Entra.\n'
    return
  fi
  warn "$role is still granted in Entra, $still_allows. Remove it:"
  while IFS= read -r id; do
    [[ "$id" =~ ^[A-Za-z0-9_-]+$ ]] || die "Microsoft Graph answered an app role assignment id that is not one"
    printf "  az rest --method delete --url '%s'\n" "$graph/servicePrincipals/$principal_id/appRoleAssignments/$id" >&2
  done <<<"$graph_answer"
}

print_graph_grant_skipped() {
  local principal_id="$1" roles="$2" left_behind=()
  [[ "$calendar_events" == true && "$calendar_access" == entra ]] || left_behind+=("a tenant-wide $CALENDARS_ROLE")
  [[ "$attendance_reports" == true ]] || left_behind+=("$ARTIFACTS_ROLE")
  step "Microsoft Graph app roles: not checked (--skip-graph-grant)"
  cat <<EOF
The identity $principal_id needs $roles (Microsoft Graph, application).
A Privileged Role Administrator grants what is missing by running, from a checkout:

  infra/deploy.sh --resource-group $resource_group --app-name $app_name --skip-code
EOF
  if ((${#left_behind[@]} == 2)); then
    printf '(which also names %s or %s left from an earlier run, to remove).\n' "${left_behind[0]}" "${left_behind[1]}"
  elif ((${#left_behind[@]} == 1)); then
    printf '(which also names %s left from an earlier run, to remove).\n' "${left_behind[0]}"
  fi
}

print_teams_policy_step() {
  local client_id="$1" grant_lines="" allows global_artifacts="" organizer
  if ((${#organizers[@]} > 0)); then
    for organizer in "${organizers[@]}"; do
      grant_lines+="  Grant-CsApplicationAccessPolicy -PolicyName $TEAMS_POLICY_NAME -Identity \"$(shown "$organizer")\""$'\n'
    done
  else
    grant_lines="  Grant-CsApplicationAccessPolicy -PolicyName $TEAMS_POLICY_NAME -Identity \"<organizer UPN, such as ana@contoso.com>\""$'\n'
  fi
  allows="Microsoft Graph lets the bridge create meetings only for organizers an application access
policy allows."
  # Graph lets an app read a user's meeting artifacts only where an application access policy allows it for that
  # user (the attendance report pages of Microsoft Graph): the meetings' policy is that policy.
  if [[ "$attendance_reports" == true ]]; then
    allows="Microsoft Graph lets the bridge create meetings, and read their attendance reports
($ARTIFACTS_ROLE: attendance reports are on), only for organizers an application
access policy allows: the same policy covers both, and no other is needed."
    global_artifacts="
With attendance reports on, -Global also lets it read the attendance reports of every user's meetings."
  fi
  step "Last step, by a Teams administrator (no API for it): the application access policy"
  cat <<EOF
${allows}
In PowerShell with the MicrosoftTeams module (Install-Module MicrosoftTeams):

  Connect-MicrosoftTeams
  New-CsApplicationAccessPolicy -Identity $TEAMS_POLICY_NAME -AppIds "$client_id" -Description "Booking Bridge creates Teams meetings for booking organizers"
${grant_lines}
or, to allow every organizer in the tenant instead:

  Grant-CsApplicationAccessPolicy -PolicyName $TEAMS_POLICY_NAME -Global

WARNING: -Global lets the bridge create meetings for EVERY user of the tenant, not only the
organizers named above: grant per organizer unless every user may be one.${global_artifacts}

If the policy already exists (a redeploy with a new identity), add the client id instead:

  Set-CsApplicationAccessPolicy -Identity $TEAMS_POLICY_NAME -AppIds @{Add="$client_id"}

WARNING: a new or changed policy takes up to 30 minutes to apply. Until then Graph answers
403 for these organizers and the bridge reports them as not permitted.
EOF
}

print_calendar_scope_step() {
  local client_id="$1" principal_id="$2"
  if [[ "$calendar_access" == exchange ]]; then
    step "Calendar mode: grant $CALENDARS_ROLE on the organizers' mailboxes (Exchange administrator)"
    cat <<EOF
Calendar access comes from Exchange Online RBAC for Applications, scoped to the organizers'
mailboxes; until this is done, Graph answers 403 to calendar bookings. In PowerShell with the
ExchangeOnlineManagement module (docs/infrastructure.md):
EOF
  else
    step "Calendar mode: $CALENDARS_ROLE reaches every mailbox (scope it with Exchange)"
    cat <<EOF
$CALENDARS_ROLE granted in Entra reaches every mailbox in the tenant. To limit the bridge to the
organizers' calendars: run deploy.sh again with --calendar-access exchange (later runs then
never grant it in Entra again and name the Entra grant to remove), then, as an Exchange
administrator, in PowerShell with the ExchangeOnlineManagement module (docs/infrastructure.md):
EOF
  fi
  cat <<EOF

  Connect-ExchangeOnline
  New-ServicePrincipal -AppId "$client_id" -ObjectId "$principal_id" -DisplayName "Booking Bridge"
  New-ManagementScope -Name "Booking Bridge organizers" -RecipientRestrictionFilter "MemberOfGroup -eq '<organizers group distinguished name>'"
  New-ManagementRoleAssignment -App "$client_id" -Role "Application $CALENDARS_ROLE" -CustomResourceScope "Booking Bridge organizers"
EOF
}

# The identity's Microsoft Graph app roles: those the choices need granted (here, or by the template), and a
# grant of one they do not need, left from an earlier run, named.
grant_graph_roles() {
  local principal_id="$1" granted_by_template="$2" role_ids=("$ONLINE_MEETINGS_ROLE_ID") roles=("$ONLINE_MEETINGS_ROLE") index listed
  if [[ "$calendar_events" == true && "$calendar_access" == entra ]]; then
    role_ids+=("$CALENDARS_ROLE_ID")
    roles+=("$CALENDARS_ROLE")
  fi
  if [[ "$attendance_reports" == true ]]; then
    role_ids+=("$ARTIFACTS_ROLE_ID")
    roles+=("$ARTIFACTS_ROLE")
  fi
  printf -v listed '%s, ' "${roles[@]}"
  listed="${listed%, }"
  if [[ "$skip_graph_grant" == true ]]; then
    print_graph_grant_skipped "$principal_id" "$listed"
    return
  fi
  if [[ "$granted_by_template" == [Tt]rue ]]; then
    step "Microsoft Graph app roles $listed"
    printf 'Granted by the Bicep deployment.\n'
  else
    for index in "${!roles[@]}"; do
      grant_graph_app_role "$principal_id" "${role_ids[index]}" "${roles[index]}"
    done
  fi
  if [[ "$calendar_events" == false ]]; then
    name_grant_left_behind "$principal_id" "$CALENDARS_ROLE_ID" "$CALENDARS_ROLE" \
      "not needed: calendar mode is off" "on EVERY mailbox, though calendar mode is off"
  elif [[ "$calendar_access" == exchange ]]; then
    name_grant_left_behind "$principal_id" "$CALENDARS_ROLE_ID" "$CALENDARS_ROLE" \
      "not granted: calendar access comes from Exchange" "on EVERY mailbox, which the Exchange scope cannot narrow"
  fi
  if [[ "$attendance_reports" == false ]]; then
    name_grant_left_behind "$principal_id" "$ARTIFACTS_ROLE_ID" "$ARTIFACTS_ROLE" \
      "not needed: attendance reports are off" \
      "reading who attended the meetings of every organizer the Teams policy allows, though attendance reports are off"
  fi
}

# A deployment output that names an object: checked before it reaches a command.
checked_output() {
  local value
  value="$(deployment_output "$1")"
  [[ "$value" =~ $2 ]] || die "the deployment's output $1 is not what it should be; run deploy.sh again"
  printf '%s' "$value"
}

# Runs at every exit: a write grant on the package is never left behind by a run that stopped
# half-way, and the scratch folder goes.
clean_up() {
  if [[ "$package_write_granted" == true ]]; then
    remove_package_write "$deployment_principal_id" "$deployment_container_id" || true
  fi
  [[ -z "$work_dir" ]] || rm -rf "$work_dir"
}

main() {
  parse_arguments "$@"
  work_dir="$(mktemp -d)"
  trap clean_up EXIT
  check_prerequisites
  locate_resource_group
  load_previous_choices
  settle_choices
  deploy_infrastructure
  if [[ "$what_if" == true ]]; then
    printf '\nWhat-if only: nothing was changed, no code was published.\n'
    warn_if_alerts_notify_nobody
    return
  fi

  local function_app client_id principal_id namespace bookings_queue results_queue granted_by_template published=true
  function_app="$(deployment_output functionAppName)"
  client_id="$(deployment_output identityClientId)"
  principal_id="$(deployment_output identityPrincipalId)"
  namespace="$(deployment_output serviceBusNamespaceFqdn)"
  bookings_queue="$(deployment_output bookingsQueueName)"
  results_queue="$(deployment_output resultsQueueName)"
  granted_by_template="$(deployment_output graphAppRoleGrantedByTemplate)"
  deployment_principal_id="$(checked_output deploymentIdentityPrincipalId "$GUID_PATTERN")"
  deployment_container_id="$(checked_output deploymentContainerId "$RESOURCE_ID_PATTERN")"

  if [[ "$publish_code" == true ]]; then
    grant_package_write "$deployment_principal_id" "$deployment_container_id"
    publish_function_code "$function_app" || published=false
  fi
  # Also without --skip-code's publish: a write grant a deployment made before this one left standing.
  remove_package_write "$deployment_principal_id" "$deployment_container_id" || true
  if [[ "$published" == false ]]; then
    die "the code is not published (the error is above); the infrastructure is deployed: run deploy.sh again to publish"
  fi
  grant_graph_roles "$principal_id" "$granted_by_template"
  print_teams_policy_step "$client_id"
  if [[ "$calendar_events" == true ]]; then
    print_calendar_scope_step "$client_id" "$principal_id"
  fi

  step "Deployed"
  cat <<EOF
  Function app:        $function_app
  Identity client id:  $client_id
  Identity object id:  $principal_id
  Service Bus:         $namespace
  Bookings queue:      $bookings_queue (sessions: send each booking with its externalId as session id)
  Results queue:       $results_queue
  Alerts emailed to:   $(shown "$alert_email" "nobody (see the warning)")
EOF
  warn_if_alerts_notify_nobody
  if [[ "$graph_role_pending" == true ]]; then
    die "the Microsoft Graph app role is not granted yet (see the warning above); everything else is deployed"
  fi
}

main "$@"
