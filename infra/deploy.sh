#!/usr/bin/env bash
# Deploys Booking Bridge from an empty (or existing) resource group in one command:
# infrastructure (main.bicep + main.bicepparam), the function code, the Microsoft Graph
# app role, then prints the one Teams step that has no API. Safe to run again: every
# step checks what is there first. See docs/infrastructure.md.
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
readonly TEAMS_POLICY_NAME="BookingBridge"

resource_group="${BOOKING_BRIDGE_RESOURCE_GROUP:-}"
location=""
app_name="${BOOKING_BRIDGE_APP_NAME:-bookingbridge}"
alert_email="${BOOKING_BRIDGE_ALERT_EMAIL:-}"
what_if=false
publish_code=true
graph_in_template=false
local_access=false
organizers=()
graph_role_pending=false
calendar_events=false

usage() {
  cat <<EOF
Usage: infra/deploy.sh --resource-group NAME [options]

Deploys Booking Bridge: Bicep infrastructure, the function code, and the Microsoft
Graph app role; then prints the Teams application access policy commands.

Options:
  -g, --resource-group NAME  Resource group to deploy into (or BOOKING_BRIDGE_RESOURCE_GROUP).
  -l, --location REGION      Region for a resource group that does not exist yet; it must
                             offer Flex Consumption (az functionapp list-flexconsumption-locations).
  -n, --app-name NAME        Short name resource names are built from (default: bookingbridge).
      --alert-email ADDRESS  Where the alerts (dead letters, failed results, Graph 401/403,
                             failed invocations) are emailed (or BOOKING_BRIDGE_ALERT_EMAIL);
                             a distribution list is best. Without it the alerts exist but
                             notify nobody.
      --what-if              Show what the deployment would change, and change nothing.
      --skip-code            Deploy the infrastructure only; do not publish the function code.
      --graph-in-template    Grant $ONLINE_MEETINGS_ROLE in the Bicep deployment (Microsoft
                             Graph extension) instead of with az rest afterwards. Either way
                             you need the Entra rights to assign Microsoft Graph app roles.
      --local-access         Also let you (the signed-in az principal) send test bookings,
                             read results and replay dead letters with the local tools
                             (your own grants, apart from the function identity's).
      --calendar-events      Turn calendar mode on (CALENDAR_EVENTS_ENABLED): bookings with
                             "calendar" become Outlook events. Also grants $CALENDARS_ROLE
                             and prints how to scope it to the organizers' mailboxes.
      --organizer UPN        Organizer to name in the printed Grant-CsApplicationAccessPolicy
                             command (repeatable); without it the command has a placeholder.
  -h, --help                 Show this help.

Prerequisites: Azure CLI 2.60+ signed in (az login) with Owner, or Contributor plus
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
        shift 2
        ;;
      --what-if)
        what_if=true
        shift
        ;;
      --skip-code)
        publish_code=false
        shift
        ;;
      --graph-in-template)
        graph_in_template=true
        shift
        ;;
      --local-access)
        local_access=true
        shift
        ;;
      --calendar-events)
        calendar_events=true
        shift
        ;;
      --organizer)
        [[ $# -ge 2 ]] || die "$1 needs a value"
        organizers+=("$2")
        shift 2
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
  [[ -z "$alert_email" || "$alert_email" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]] ||
    die "--alert-email '$alert_email' is not an email address"
}

# Said before the deployment and again at the end, where it cannot scroll away unseen.
warn_if_alerts_notify_nobody() {
  [[ -z "$alert_email" ]] || return 0
  warn "no --alert-email (or BOOKING_BRIDGE_ALERT_EMAIL): the alerts are created, but they email NOBODY."
  warn "dead-lettered bookings, failed results, Graph 401/403 and failed invocations will go unnoticed;"
  warn "run again with --alert-email ops@example.com (see docs/alerts.md)."
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
  local subscription
  subscription="$(az account show --query '[name, id]' --output tsv | paste -sd ' ')"
  printf 'Subscription: %s\n' "$subscription"
}

ensure_resource_group() {
  step "Resource group $resource_group"
  if [[ "$(az group exists --name "$resource_group")" == "true" ]]; then
    printf 'Exists.\n'
    return
  fi
  [[ -n "$location" ]] ||
    die "resource group '$resource_group' does not exist: pass --location REGION to create it (list Flex Consumption regions with: az functionapp list-flexconsumption-locations --output table)"
  if [[ "$what_if" == true ]]; then
    die "resource group '$resource_group' does not exist and --what-if changes nothing: create it first with 'az group create --name $resource_group --location $location'"
  fi
  az group create --name "$resource_group" --location "$location" --output none
  printf 'Created in %s.\n' "$location"
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

deployment_name() {
  printf 'booking-bridge-%s' "$app_name"
}

deploy_infrastructure() {
  # main.bicepparam reads these; nothing else is passed on the command line.
  export BOOKING_BRIDGE_APP_NAME="$app_name"
  export BOOKING_BRIDGE_GRANT_GRAPH_IN_TEMPLATE="$graph_in_template"
  export BOOKING_BRIDGE_ALERT_EMAIL="$alert_email"
  export BOOKING_BRIDGE_CALENDAR_EVENTS="$calendar_events"
  export BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID=""
  export BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE="User"
  if [[ "$local_access" == true ]]; then
    read -r BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_TYPE < <(signed_in_principal)
    [[ -n "$BOOKING_BRIDGE_DEPLOYER_PRINCIPAL_ID" ]] || die "--local-access could not read your object id from Entra"
  fi

  if [[ "$what_if" == true ]]; then
    step "What the deployment would change (nothing is changed)"
    az deployment group what-if --resource-group "$resource_group" --name "$(deployment_name)" \
      --parameters "$PARAMETERS_FILE"
    return
  fi
  step "Deploying infrastructure (az deployment group create, a few minutes)"
  az deployment group create --resource-group "$resource_group" --name "$(deployment_name)" \
    --parameters "$PARAMETERS_FILE" --output none
}

deployment_output() {
  az deployment group show --resource-group "$resource_group" --name "$(deployment_name)" \
    --query "properties.outputs.$1.value" --output tsv
}

publish_function_code() {
  local function_app="$1"
  step "Publishing the function code to $function_app"
  local package_dir
  package_dir="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory.
  trap "rm -rf '$package_dir'" EXIT
  # The function's files alone, plus their bytecode (which Core Tools would leave out): the app runs
  # read-only from the package, so without it every cold start compiles.
  "$REPO_ROOT/infra/package.sh" "$package_dir/app.zip" || die "could not build the deployment package"
  # Flex Consumption deploys through the One Deploy endpoint; --build-remote installs
  # requirements.txt on Linux, so the package needs no pre-built dependencies.
  az functionapp deployment source config-zip --resource-group "$resource_group" \
    --name "$function_app" --src "$package_dir/app.zip" --build-remote true --output none
}

# Grants a Microsoft Graph application role (OnlineMeetings.ReadWrite.All; Calendars.ReadWrite in calendar
# mode) to the identity, unless it has it.
grant_graph_app_role() {
  local principal_id="$1" role_id="$2" role="$3" graph_url graph_sp_id role_known existing body attempt
  step "Microsoft Graph app role $role"
  graph_url="$(az cloud show --query endpoints.microsoftGraphResourceId --output tsv)"
  graph_url="${graph_url%/}/v1.0"
  graph_sp_id="$(az ad sp show --id "$MICROSOFT_GRAPH_APP_ID" --query id --output tsv)"
  role_known="$(az ad sp show --id "$MICROSOFT_GRAPH_APP_ID" \
    --query "length(appRoles[?id=='$role_id' && value=='$role'])" --output tsv)"
  [[ "$role_known" == "1" ]] ||
    die "Microsoft Graph in this tenant has no app role $role_id ($role)"

  # A new identity's service principal can take a minute or two to reach Microsoft Graph.
  for attempt in 1 2 3 4 5 6; do
    if existing="$(az rest --method get \
      --url "$graph_url/servicePrincipals/$principal_id/appRoleAssignments" \
      --query "length(value[?appRoleId=='$role_id' && resourceId=='$graph_sp_id'])" \
      --output tsv 2>/dev/null)"; then
      break
    fi
    existing=""
    printf 'Waiting for the identity to appear in Microsoft Graph (attempt %s of 6)...\n' "$attempt"
    sleep 20
  done
  if [[ -z "$existing" ]]; then
    graph_role_pending=true
    warn "the identity $principal_id is not visible in Microsoft Graph yet: run deploy.sh again in a few minutes to grant $role"
    return
  fi
  if [[ "$existing" == "1" ]]; then
    printf 'Already granted.\n'
    return
  fi

  body="{\"principalId\":\"$principal_id\",\"resourceId\":\"$graph_sp_id\",\"appRoleId\":\"$role_id\"}"
  if az rest --method post --url "$graph_url/servicePrincipals/$graph_sp_id/appRoleAssignedTo" \
    --headers "Content-Type=application/json" --body "$body" --output none; then
    printf 'Granted.\n'
    return
  fi
  graph_role_pending=true
  warn "could not grant $role: assigning Microsoft Graph app roles needs a Privileged Role Administrator (or Global Administrator). Ask one to run:"
  printf "  az rest --method post --url '%s' --headers 'Content-Type=application/json' --body '%s'\n" \
    "$graph_url/servicePrincipals/$graph_sp_id/appRoleAssignedTo" "$body" >&2
}

print_teams_policy_step() {
  local client_id="$1" grant_lines="" organizer
  if ((${#organizers[@]} > 0)); then
    for organizer in "${organizers[@]}"; do
      grant_lines+="  Grant-CsApplicationAccessPolicy -PolicyName $TEAMS_POLICY_NAME -Identity \"$organizer\""$'\n'
    done
  else
    grant_lines="  Grant-CsApplicationAccessPolicy -PolicyName $TEAMS_POLICY_NAME -Identity \"<organizer UPN, such as ana@contoso.com>\""$'\n'
  fi
  step "Last step, by a Teams administrator (no API for it): the application access policy"
  cat <<EOF
Microsoft Graph lets the bridge create meetings only for organizers an application access
policy allows. In PowerShell with the MicrosoftTeams module (Install-Module MicrosoftTeams):

  Connect-MicrosoftTeams
  New-CsApplicationAccessPolicy -Identity $TEAMS_POLICY_NAME -AppIds "$client_id" -Description "Booking Bridge creates Teams meetings for booking organizers"
${grant_lines}
or, to allow every organizer in the tenant instead:

  Grant-CsApplicationAccessPolicy -PolicyName $TEAMS_POLICY_NAME -Global

If the policy already exists (a redeploy with a new identity), add the client id instead:

  Set-CsApplicationAccessPolicy -Identity $TEAMS_POLICY_NAME -AppIds @{Add="$client_id"}

WARNING: a new or changed policy takes up to 30 minutes to apply. Until then Graph answers
403 for these organizers and the bridge reports them as not permitted.
EOF
}

print_calendar_scope_step() {
  local client_id="$1" principal_id="$2"
  step "Calendar mode: scope $CALENDARS_ROLE to the organizers' mailboxes (Exchange administrator)"
  cat <<EOF
$CALENDARS_ROLE granted in Entra reaches every mailbox in the tenant. To limit the bridge to the
organizers' calendars, use Exchange Online RBAC for Applications instead (docs/infrastructure.md):
remove the Entra grant, then in PowerShell with the ExchangeOnlineManagement module:

  Connect-ExchangeOnline
  New-ServicePrincipal -AppId "$client_id" -ObjectId "$principal_id" -DisplayName "Booking Bridge"
  New-ManagementScope -Name "Booking Bridge organizers" -RecipientRestrictionFilter "MemberOfGroup -eq '<organizers group distinguished name>'"
  New-ManagementRoleAssignment -App "$client_id" -Role "Application $CALENDARS_ROLE" -CustomResourceScope "Booking Bridge organizers"
EOF
}

main() {
  parse_arguments "$@"
  warn_if_alerts_notify_nobody
  check_prerequisites
  ensure_resource_group
  deploy_infrastructure
  if [[ "$what_if" == true ]]; then
    printf '\nWhat-if only: nothing was changed, no code was published.\n'
    warn_if_alerts_notify_nobody
    return
  fi

  local function_app client_id principal_id namespace bookings_queue results_queue granted_by_template
  function_app="$(deployment_output functionAppName)"
  client_id="$(deployment_output identityClientId)"
  principal_id="$(deployment_output identityPrincipalId)"
  namespace="$(deployment_output serviceBusNamespaceFqdn)"
  bookings_queue="$(deployment_output bookingsQueueName)"
  results_queue="$(deployment_output resultsQueueName)"
  granted_by_template="$(deployment_output graphAppRoleGrantedByTemplate)"

  if [[ "$publish_code" == true ]]; then
    publish_function_code "$function_app"
  fi
  if [[ "$granted_by_template" == [Tt]rue ]]; then
    step "Microsoft Graph app role $ONLINE_MEETINGS_ROLE"
    printf 'Granted by the Bicep deployment.\n'
  else
    grant_graph_app_role "$principal_id" "$ONLINE_MEETINGS_ROLE_ID" "$ONLINE_MEETINGS_ROLE"
    if [[ "$calendar_events" == true ]]; then
      grant_graph_app_role "$principal_id" "$CALENDARS_ROLE_ID" "$CALENDARS_ROLE"
    fi
  fi
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
  Alerts emailed to:   ${alert_email:-nobody (see the warning)}
EOF
  warn_if_alerts_notify_nobody
  if [[ "$graph_role_pending" == true ]]; then
    die "the Microsoft Graph app role is not granted yet (see the warning above); everything else is deployed"
  fi
}

main "$@"
